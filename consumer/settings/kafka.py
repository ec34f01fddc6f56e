"""The Kafka settings: brokers, topics, group, security (TLS, SASL, OAuth, MSK IAM), where a
group starts, and the extra aiokafka settings. A group of fields of `BridgeSettings`
(model.py); each declared once, with the rules that concern Kafka alone."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, field_validator

from consumer.settings.declarations import NonBlank, SettingRuleError, setting
from consumer.settings.kafka_arguments import check_kafka_properties
from consumer.settings.pem import check_pem_or_path
from consumer.settings.urls import why_no_secret_may_go_to

# aiokafka's own default is the session timeout (10 s): too short for draining revoked
# partitions whose function takes seconds. Java clients use max.poll.interval.ms (5 min).
DEFAULT_REBALANCE_TIMEOUT_MS = 60_000


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"
    OAUTHBEARER = "OAUTHBEARER"  # OIDC client credentials against KAFKA_OAUTH_TOKEN_URL
    AWS_MSK_IAM = "AWS_MSK_IAM"  # OAUTHBEARER with tokens signed by the AWS credentials

    @property
    def takes_password(self) -> bool:
        return self in (
            SaslMechanism.PLAIN,
            SaslMechanism.SCRAM_SHA_256,
            SaslMechanism.SCRAM_SHA_512,
        )


# Lambda event source mappings' names for the starting positions, and the bridge's.
_STARTING_POSITION_ALIASES = {"TRIM_HORIZON": "earliest", "LATEST": "latest"}
AT_TIMESTAMP = "AT_TIMESTAMP"


def broker_addresses(servers: str) -> list[tuple[str, int]]:
    """`host:port,host:port` → [(host, port), …]; ValueError names an entry that is not one."""
    addresses = []
    for server in (part.strip() for part in servers.split(",") if part.strip()):
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{server!r} is not host:port")
        addresses.append((host, int(port)))
    if not addresses:
        raise ValueError("name at least one host:port")
    return addresses


def parse_moment(value: str) -> datetime:
    """Unix seconds or an ISO-8601 timestamp with a time zone; ValueError says which is wanted."""
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (ValueError, OverflowError):
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is neither Unix seconds nor an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} needs a time zone, e.g. {value}Z or {value}+00:00")
    return moment


class KafkaSettings(BaseModel):
    """Where the records come from and how the bridge signs in."""

    kafka_bootstrap_servers: NonBlank = setting(
        doc="Comma-separated `host:port` list.",
        stack="bootstrapServers",
        example="<host:port>[,<host:port>…]",
    )
    kafka_topic: list[str] | None = setting(
        None,
        doc="Topic to deliver; several may be given, comma-separated. Or KAFKA_TOPIC_PATTERN.",
        stack="topic",
        stack_type="string",
        example="<topic>",
    )
    kafka_topic_pattern: str | None = setting(
        None,
        doc=(
            "Instead of KAFKA_TOPIC: a regular expression; every topic whose whole name "
            "matches, including topics created later, is delivered."
        ),
        stack="topicPattern",
        example="'orders-.*'",
    )
    kafka_group_id: NonBlank = setting(
        doc="Consumer group. With ACLs (Confluent Cloud) it must be the group allowed.",
        stack="groupId",
        example="<group>",
    )
    kafka_security_protocol: SecurityProtocol = setting(
        SecurityProtocol.PLAINTEXT,
        doc="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
        stack="securityProtocol",
        stack_default=SecurityProtocol.SASL_SSL.value,  # Confluent Cloud and MSK speak TLS
    )
    kafka_sasl_mechanism: SaslMechanism = setting(
        SaslMechanism.PLAIN,
        doc=(
            "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (with a user name and password), OAUTHBEARER "
            "(OIDC client credentials: the KAFKA_OAUTH_* settings) or AWS_MSK_IAM (MSK's IAM "
            "access control, with the AWS credentials of the task)."
        ),
        stack="saslMechanism",
    )
    kafka_username: str | None = setting(
        None,
        doc="SASL user name (API key) for PLAIN and SCRAM.",
        stack="username",
        example="<SASL user name or API key>",
    )
    kafka_password: SecretStr | None = setting(
        None,
        doc="SASL password (API secret) for PLAIN and SCRAM. Never logged.",
        stack="kafkaPassword",
    )
    kafka_ssl_ca_file: Path | None = setting(
        None,
        doc="PEM file of CAs to trust instead of the system's.",
    )
    kafka_ssl_certificate: SecretStr | None = setting(
        None,
        doc=(
            "Client certificate for mutual TLS: a PEM file's path, or the PEM text itself "
            "(with its chain, if any)."
        ),
        stack="kafkaClientCertificate",
    )
    kafka_ssl_key: SecretStr | None = setting(
        None,
        doc="The client certificate's key: a PEM file's path or the PEM text. Never logged.",
        stack="kafkaClientKey",
    )
    kafka_ssl_key_password: SecretStr | None = setting(
        None,
        doc="Password of an encrypted client key. Never logged.",
        stack="kafkaClientKeyPassword",
    )
    kafka_oauth_token_url: str | None = setting(
        None,
        doc="OAUTHBEARER: the OIDC token endpoint the client-credentials grant is posted to.",
        stack="oauthTokenUrl",
        example="https://<issuer>/oauth2/token",
    )
    kafka_oauth_client_id: str | None = setting(
        None, doc="OAUTHBEARER: the client id.", stack="oauthClientId", example="<client id>"
    )
    kafka_oauth_client_secret: SecretStr | None = setting(
        None, doc="OAUTHBEARER: the client secret. Never logged.", stack="oauthClientSecret"
    )
    kafka_oauth_scope: str | None = setting(
        None,
        doc="OAUTHBEARER: the scope to ask for, if the provider wants one.",
        stack="oauthScope",
    )
    kafka_oauth_extensions: dict[str, str] = setting(
        default_factory=dict,
        doc=(
            "OAUTHBEARER: JSON map of SASL extensions sent with the token; Confluent Cloud "
            'needs `{"logicalCluster": "lkc-…", "identityPoolId": "pool-…"}`.'
        ),
        stack="oauthExtensions",
        example="""'{"logicalCluster": "lkc-…", "identityPoolId": "pool-…"}'""",
    )
    kafka_starting_position: str = setting(
        "earliest",
        doc=(
            "Where a group with no committed offset starts: `earliest`, `latest`, or an "
            "ISO-8601 timestamp; or as Lambda names them: `TRIM_HORIZON`, `LATEST`, "
            "`AT_TIMESTAMP` (with KAFKA_STARTING_POSITION_TIMESTAMP)."
        ),
        stack="startingPosition",
    )
    kafka_starting_position_timestamp: str | None = setting(
        None,
        doc=(
            "With KAFKA_STARTING_POSITION=AT_TIMESTAMP: the moment, as Unix seconds (Lambda's "
            "StartingPositionTimestamp) or an ISO-8601 timestamp."
        ),
        stack="startingPositionTimestamp",
    )
    kafka_properties: dict[str, Any] = setting(
        default_factory=dict,
        doc=(
            'JSON map of extra aiokafka consumer settings, e.g. `{"fetch_min_bytes": 100000}`;'
            " unknown names are rejected."
        ),
        stack="kafkaProperties",
        example="""'{"fetch_min_bytes": 100000}'""",
    )
    kafka_connect_timeout_seconds: float = setting(
        30.0,
        gt=0,
        doc=(
            "How long start-up waits for the brokers to answer (refused connections and "
            "unknown hosts are named after 5 s)."
        ),
        stack="kafkaConnectTimeoutSeconds",
    )

    @field_validator("kafka_topic", mode="before")
    @classmethod
    def _split_topics(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [topic.strip() for topic in value.split(",") if topic.strip()]
            if not value:
                raise ValueError("name at least one topic")
        return value

    @field_validator("kafka_topic_pattern")
    @classmethod
    def _check_pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as bad:
                raise ValueError(f"not a regular expression: {bad}") from None
        return value

    @field_validator("kafka_oauth_extensions", mode="before")
    @classmethod
    def _parse_extensions(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as bad:
                raise ValueError(f"not JSON: {bad}") from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ValueError("must be a JSON object of names to text values")
        return value

    @field_validator("kafka_ssl_certificate", "kafka_ssl_key")
    @classmethod
    def _check_pem(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_pem_or_path(value.get_secret_value())
        return value

    @field_validator("kafka_starting_position_timestamp")
    @classmethod
    def _check_timestamp(cls, value: str | None) -> str | None:
        if value is not None:
            parse_moment(value)
        return value

    @field_validator("kafka_properties", mode="before")
    @classmethod
    def _parse_kafka_properties(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as bad:
                raise ValueError(f"not JSON: {bad}") from None
        if not isinstance(value, dict):
            raise ValueError("must be a JSON object of aiokafka setting names to values")
        return check_kafka_properties(value)

    @field_validator("kafka_starting_position")
    @classmethod
    def _check_starting_position(cls, value: str) -> str:
        value = _STARTING_POSITION_ALIASES.get(value, value)
        if value in ("earliest", "latest", AT_TIMESTAMP):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is neither earliest, latest nor an ISO-8601 timestamp (nor "
                "TRIM_HORIZON, LATEST or AT_TIMESTAMP)"
            ) from None
        if moment.tzinfo is None:
            raise ValueError(f"{value!r} needs a time zone, e.g. {value}Z or {value}+00:00")
        return value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_brokers(cls, value: str) -> str:
        broker_addresses(value)
        return value

    def _check_kafka_security(self) -> None:
        """How the bridge authenticates to Kafka: each mechanism with what it needs."""
        protocol, mechanism = self.kafka_security_protocol, self.kafka_sasl_mechanism
        sasl = protocol.startswith("SASL_")
        tls = protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)
        needs_password = sasl and mechanism.takes_password
        if needs_password and (not self.kafka_username or self.kafka_password is None):
            raise SettingRuleError(
                "kafka_username" if not self.kafka_username else "kafka_password",
                f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_USERNAME and KAFKA_PASSWORD "
                f"(KAFKA_SASL_MECHANISM={mechanism})",
            )
        if mechanism is SaslMechanism.AWS_MSK_IAM and protocol is not SecurityProtocol.SASL_SSL:
            raise SettingRuleError(
                "kafka_security_protocol",
                f"KAFKA_SECURITY_PROTOCOL={protocol}: KAFKA_SASL_MECHANISM=AWS_MSK_IAM needs "
                "SASL_SSL (MSK's IAM listener on port 9098)",
            )
        if sasl and mechanism is SaslMechanism.OAUTHBEARER:
            for field in ("kafka_oauth_token_url", "kafka_oauth_client_id"):
                if getattr(self, field) is None:
                    raise SettingRuleError(
                        field, f"{field.upper()} is required with KAFKA_SASL_MECHANISM=OAUTHBEARER"
                    )
            if self.kafka_oauth_client_secret is None:
                raise SettingRuleError(
                    "kafka_oauth_client_secret",
                    "KAFKA_OAUTH_CLIENT_SECRET is required with KAFKA_SASL_MECHANISM=OAUTHBEARER",
                )
        token_url = self.kafka_oauth_token_url
        why_not = None if token_url is None else why_no_secret_may_go_to(token_url)
        if why_not is not None:
            raise SettingRuleError(
                "kafka_oauth_token_url",
                f"KAFKA_OAUTH_TOKEN_URL cannot be given the client secret: {why_not}",
            )
        client_certificate = (self.kafka_ssl_certificate, self.kafka_ssl_key)
        if any(part is not None for part in client_certificate):
            if not all(part is not None for part in client_certificate):
                raise SettingRuleError(
                    "kafka_ssl_key" if self.kafka_ssl_key is None else "kafka_ssl_certificate",
                    "KAFKA_SSL_CERTIFICATE and KAFKA_SSL_KEY go together (mutual TLS)",
                )
            if not tls:
                raise SettingRuleError(
                    "kafka_security_protocol",
                    f"KAFKA_SECURITY_PROTOCOL={protocol}: a client certificate needs SSL or "
                    "SASL_SSL",
                )
        if self.kafka_ssl_key_password is not None and self.kafka_ssl_key is None:
            raise SettingRuleError(
                "kafka_ssl_key", "KAFKA_SSL_KEY_PASSWORD is set but KAFKA_SSL_KEY is not"
            )

    @property
    def rebalance_timeout_ms(self) -> int:
        """How long the group waits for members to rejoin; the revoke drain must fit in it."""
        configured: int = self.kafka_properties.get(
            "rebalance_timeout_ms", DEFAULT_REBALANCE_TIMEOUT_MS
        )
        return configured

    @property
    def starting_timestamp_ms(self) -> int | None:
        """The starting position as epoch milliseconds, when it is a timestamp."""
        if self.kafka_starting_position in ("earliest", "latest"):
            return None
        if self.kafka_starting_position == AT_TIMESTAMP:
            assert self.kafka_starting_position_timestamp is not None  # a rule says so
            return int(parse_moment(self.kafka_starting_position_timestamp).timestamp() * 1000)
        return int(datetime.fromisoformat(self.kafka_starting_position).timestamp() * 1000)

    @property
    def topics_description(self) -> str:
        """What the bridge consumes, in a line: the topics, or the pattern."""
        if self.kafka_topic is not None:
            return ",".join(self.kafka_topic)
        return f"/{self.kafka_topic_pattern}/"
