"""A real Apache Kafka broker (KRaft, single node) in a child JVM, for tests and benchmarks.

One process serves three client-facing variants at once, so the suite pays for one start:
- PLAINTEXT listener: anonymous, a super user — plain tests are unaffected by the ACLs;
- SASL_SSL listener with PLAIN (Confluent Cloud's mode): a throwaway CA and one user;
- ACLs on (StandardAuthorizer): that user may use every topic but only groups whose id
  starts with `SaslListener.allowed_group_prefix`, like the production cluster that
  allows one group id on the topic.
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
    free_loopback_port,
    start_broker_process,
    stop_broker_process,
    wait_until_kafka_answers,
)
from tests.support.tls import BrokerTls, make_broker_tls

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
        self._plain_port = free_loopback_port()
        self._sasl_port = free_loopback_port()
        self._controller_port = free_loopback_port()
        self._tls: BrokerTls = make_broker_tls(work_dir / "tls")
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

    def _format_arguments(self) -> list[str]:
        config = str(self._properties)
        return ["format", "--cluster-id", _cluster_id(), "--config", config, "--ignore-formatted"]

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
        jaas = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'user_{SASL_USER}="{SASL_PASSWORD}";'
        )
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{ctl}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{plain},SASL_SSL://127.0.0.1:{sasl},"
                f"CONTROLLER://127.0.0.1:{ctl}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{plain},SASL_SSL://127.0.0.1:{sasl}",
            "listener.security.protocol.map": (
                "PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
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
            "listener.name.sasl_ssl.plain.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self._tls.broker_keystore_pem),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            # Anonymous = the PLAINTEXT and controller listeners (test harness, inter-broker).
            "super.users": "User:ANONYMOUS",
        }
        self._properties.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        os.chmod(self._properties, 0o600)  # it holds the test user's password
