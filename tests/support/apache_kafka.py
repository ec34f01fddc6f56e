"""A real Apache Kafka broker (KRaft, single node) in a child JVM, for tests and benchmarks.

One process serves every client-facing variant at once, so the suite pays for one start:
- PLAINTEXT listener: anonymous, a super user — plain tests are unaffected by the ACLs;
- SASL_SSL listener with PLAIN (Confluent Cloud's mode), SCRAM-SHA-256 and SCRAM-SHA-512:
  a throwaway CA and one user, whose SCRAM credentials are stored when the log dir is
  formatted;
- MTLS listener (SSL with `ssl.client.auth=required`): clients must show a certificate from
  the broker's CA; its common name is the principal;
- OAUTH listener (SASL_SSL with OAUTHBEARER): tokens are validated for real by Kafka's
  OAuthBearerValidatorCallbackHandler against the test identity provider's JWKS; a session
  ends when its token expires, so a client must come back with a fresh one;
- ACLs on (StandardAuthorizer): the SASL user may use every topic but only groups whose id
  starts with `SaslListener.allowed_group_prefix`, like the production cluster that
  allows one group id on the topic. The certificate and OAuth principals are super users.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from consumer.local.broker_process import (
    BrokerStartError,
    free_loopback_ports,
    start_broker_process,
    stop_broker_process,
    wait_until_kafka_answers,
)
from tests.support.oidc import OAUTH_CLIENT_ID, IdentityProvider
from tests.support.tls import CLIENT_NAME, BrokerTls, ClientCertificate, make_broker_tls

SASL_USER = "alice"
SASL_PASSWORD = "alice-secret-Zk8q"  # tests assert this never reaches a log
ALLOWED_GROUP_PREFIX = "allowed-"
START_TIMEOUT_S = 90.0

_LOG4J2 = """\
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
"""


@dataclass(frozen=True)
class SaslListener:
    bootstrap: str
    username: str
    password: str
    ca_file: Path
    allowed_group_prefix: str


@dataclass(frozen=True)
class MutualTlsListener:
    bootstrap: str
    ca_file: Path
    client: ClientCertificate  # accepted
    stranger: ClientCertificate  # from a CA the broker does not trust


@dataclass(frozen=True)
class OAuthListener:
    bootstrap: str
    ca_file: Path
    identity_provider: IdentityProvider


def _cluster_id() -> str:
    # Kafka's own format: a UUID as 22 characters of URL-safe base64; like Kafka, never
    # one that starts with "-", which its command line would read as an option.
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


class ApacheKafkaBroker:
    """Owns one broker JVM and its log dir. `start`/`stop`/`restart`; ports are fixed for life."""

    def __init__(self, libs_dir: Path, work_dir: Path) -> None:
        self._libs_dir = libs_dir
        self._work_dir = work_dir
        # Five listeners: five different ports (two on one port stop the broker starting).
        (
            self._plain_port,
            self._sasl_port,
            self._mtls_port,
            self._oauth_port,
            self._controller_port,
        ) = free_loopback_ports(5)
        self._tls: BrokerTls = make_broker_tls(work_dir / "tls")
        self._identity_provider = IdentityProvider(work_dir / "oidc")
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path = work_dir / "broker.log"
        self._properties = work_dir / "server.properties"
        self._write_config()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self._plain_port}"

    @property
    def sasl(self) -> SaslListener:
        return SaslListener(
            bootstrap=f"127.0.0.1:{self._sasl_port}",
            username=SASL_USER,
            password=SASL_PASSWORD,
            ca_file=self._tls.ca_pem,
            allowed_group_prefix=ALLOWED_GROUP_PREFIX,
        )

    @property
    def mtls(self) -> MutualTlsListener:
        return MutualTlsListener(
            bootstrap=f"127.0.0.1:{self._mtls_port}",
            ca_file=self._tls.ca_pem,
            client=self._tls.client,
            stranger=self._tls.stranger,
        )

    @property
    def oauth(self) -> OAuthListener:
        return OAuthListener(
            bootstrap=f"127.0.0.1:{self._oauth_port}",
            ca_file=self._tls.ca_pem,
            identity_provider=self._identity_provider,
        )

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def start(self) -> None:
        """Formats the log dir on first start, starts the JVM, waits until it answers."""
        first_start = not (self._work_dir / "data" / "meta.properties").exists()
        if first_start:
            await self._run_tool("kafka.tools.StorageTool", *self._format_arguments())
        self._process = start_broker_process(
            self._java("kafka.Kafka", str(self._properties)), self.log_path
        )
        try:
            await wait_until_kafka_answers(
                self.bootstrap, self._process, self.log_path, START_TIMEOUT_S, "Apache Kafka"
            )
            if first_start:
                await self._grant_sasl_user()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """A clean broker shutdown; it blocks for seconds, so it runs off the event loop."""
        if self._process is not None:
            await asyncio.to_thread(stop_broker_process, self._process)
            self._process = None

    async def restart(self) -> None:
        """Stops and starts the same broker: same ports, same data, same ACLs."""
        await self.stop()
        await self.start()

    def _java(self, main_class: str, *args: str) -> list[str]:
        return [
            "java",
            "-Xms256m",
            "-Xmx1g",
            "-Djava.awt.headless=true",
            # Kafka 4 reads OAuth keys only from URLs it is told it may.
            f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={self._jwks_url}",
            f"-Dlog4j2.configurationFile={self._work_dir / 'log4j2.properties'}",
            "-cp",
            f"{self._libs_dir}/*",
            main_class,
            *args,
        ]

    async def _run_tool(self, main_class: str, *args: str) -> None:
        tool = await asyncio.create_subprocess_exec(
            *self._java(main_class, *args),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        said, _ = await tool.communicate()
        if tool.returncode != 0:
            raise BrokerStartError(
                f"{main_class} {' '.join(args)} failed (exit {tool.returncode}):\n"
                f"{said.decode(errors='replace')[-3000:]}"
            )

    @property
    def _jwks_url(self) -> str:
        return self._identity_provider.jwks_path.as_uri()

    def _format_arguments(self) -> list[str]:
        config = str(self._properties)
        scram = [
            f"--add-scram={mechanism}=[name={SASL_USER},password={SASL_PASSWORD}]"
            for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")
        ]
        return [
            "format",
            "--cluster-id",
            _cluster_id(),
            "--config",
            config,
            "--ignore-formatted",
            *scram,
        ]

    async def _grant_sasl_user(self) -> None:
        principal = f"User:{SASL_USER}"
        acl = ("org.apache.kafka.tools.AclCommand", "--bootstrap-server", self.bootstrap, "--add")
        await self._run_tool(
            *acl, "--allow-principal", principal, "--operation", "All", "--topic", "*"
        )
        await self._run_tool(
            *acl,
            "--allow-principal",
            principal,
            "--operation",
            "All",
            "--group",
            ALLOWED_GROUP_PREFIX,
            "--resource-pattern-type",
            "prefixed",
        )

    def _write_config(self) -> None:
        self._work_dir.mkdir(parents=True, exist_ok=True)
        (self._work_dir / "log4j2.properties").write_text(_LOG4J2)
        plain, sasl, ctl = self._plain_port, self._sasl_port, self._controller_port
        mtls, oauth = self._mtls_port, self._oauth_port
        jaas = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'user_{SASL_USER}="{SASL_PASSWORD}";'
        )
        scram_jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        oauth_jaas = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
        oauth_validator = (
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
        )
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{ctl}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{plain},SASL_SSL://127.0.0.1:{sasl},"
                f"MTLS://127.0.0.1:{mtls},OAUTH://127.0.0.1:{oauth},CONTROLLER://127.0.0.1:{ctl}"
            ),
            "advertised.listeners": (
                f"PLAINTEXT://127.0.0.1:{plain},SASL_SSL://127.0.0.1:{sasl},"
                f"MTLS://127.0.0.1:{mtls},OAUTH://127.0.0.1:{oauth}"
            ),
            "listener.security.protocol.map": (
                "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,MTLS:SSL,OAUTH:SASL_SSL,CONTROLLER:PLAINTEXT"
            ),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self._work_dir / "data"),
            # Single node: every internal topic has one replica; groups start at once.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # A missing topic must be an error the bridge reports, not silently created.
            "auto.create.topics.enable": "false",
            "num.partitions": "1",
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.sasl_ssl.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
            "listener.name.sasl_ssl.plain.sasl.jaas.config": jaas,
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config": scram_jaas,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": scram_jaas,
            # Mutual TLS: a certificate from the broker's CA; its CN is the principal.
            "listener.name.mtls.ssl.client.auth": "required",
            "listener.name.mtls.ssl.truststore.type": "PEM",
            "listener.name.mtls.ssl.truststore.location": str(self._tls.ca_pem),
            "listener.name.mtls.ssl.principal.mapping.rules": "RULE:^CN=([^,]+).*$/$1/,DEFAULT",
            # OAuth: tokens checked against the identity provider's keys; a session lasts as
            # long as its token (the reauth bound makes the broker enforce the expiry).
            "listener.name.oauth.sasl.enabled.mechanisms": "OAUTHBEARER",
            "listener.name.oauth.oauthbearer.sasl.jaas.config": oauth_jaas,
            "listener.name.oauth.oauthbearer.sasl.server.callback.handler.class": oauth_validator,
            "listener.name.oauth.oauthbearer.connections.max.reauth.ms": "3600000",
            "sasl.oauthbearer.jwks.endpoint.url": self._jwks_url,
            # Kafka 4.1's handler defaults to the client-side validator, which checks no
            # signature; the broker's validator is named so tokens are verified for real.
            "sasl.oauthbearer.jwt.validator.class": (
                "org.apache.kafka.common.security.oauthbearer.BrokerJwtValidator"
            ),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self._tls.broker_keystore_pem),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # Anonymous = the PLAINTEXT and controller listeners (test harness, inter-broker).
            "super.users": f"User:ANONYMOUS;User:{CLIENT_NAME};User:{OAUTH_CLIENT_ID}",
        }
        self._properties.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        os.chmod(self._properties, 0o600)  # it holds the test user's password
