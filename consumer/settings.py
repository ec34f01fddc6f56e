"""Every setting of the bridge: one typed object read from the environment.

The environment variable of a field is its name in upper case. The README's settings
table is checked against this class (tests/consumer/test_settings.py), so this file is
the one place that knows each variable, its default and its meaning.
"""

from __future__ import annotations

import difflib
import inspect
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from consumer.errors import ConfigurationError
from consumer.health import DEFAULT_HEALTH_FILE
from consumer.limits import LAMBDA_EVENT_MAX_BYTES, LAMBDA_REQUEST_RESPONSE_MAX_BYTES
from consumer.metrics import DEFAULT_NAMESPACE
from consumer.ordering import Ordering
from consumer.payloads import PayloadFormat

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


class OnFailure(StrEnum):
    DLQ = "dlq"
    STALL = "stall"


class InvocationType(StrEnum):
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"


# aiokafka consumer arguments the bridge sets itself, and the setting to use instead.
_OWNED_KAFKA_ARGUMENTS = {
    "topics": "KAFKA_TOPIC",
    "bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "group_id": "KAFKA_GROUP_ID",
    "security_protocol": "KAFKA_SECURITY_PROTOCOL",
    "sasl_mechanism": "KAFKA_SASL_MECHANISM",
    "sasl_plain_username": "KAFKA_USERNAME",
    "sasl_plain_password": "KAFKA_PASSWORD",
    "ssl_context": "KAFKA_SSL_CA_FILE",
    "auto_offset_reset": "KAFKA_STARTING_POSITION",
    "enable_auto_commit": "nothing: the bridge commits only what was delivered",
    "auto_commit_interval_ms": "COMMIT_INTERVAL_MS",
    "key_deserializer": "nothing: records reach the function as bytes",
    "value_deserializer": "nothing: records reach the function as bytes",
    "loop": "nothing",
    "api_version": "nothing: it is negotiated",
    "partition_assignment_strategy": "nothing: not settable from JSON",
    "sasl_oauth_token_provider": "nothing: not settable from JSON",
}
_KAFKA_ARGUMENT_TYPES: dict[str, type] = {
    name: type(parameter.default)
    for name, parameter in inspect.signature(AIOKafkaConsumer.__init__).parameters.items()
    if name != "self" and name not in _OWNED_KAFKA_ARGUMENTS
}
# Optional aiokafka arguments default to None; these are their types.
_KAFKA_ARGUMENT_TYPES.update(
    group_instance_id=str,
    rebalance_timeout_ms=int,
    max_poll_records=int,
    client_rack=str,
    sasl_kerberos_domain_name=str,
)


def _check_kafka_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    checked = {}
    for name, value in properties.items():
        if name in _OWNED_KAFKA_ARGUMENTS:
            raise ValueError(f"{name!r} is set by the bridge; set {_OWNED_KAFKA_ARGUMENTS[name]}")
        expected = _KAFKA_ARGUMENT_TYPES.get(name)
        if expected is None:
            close = difflib.get_close_matches(name, _KAFKA_ARGUMENT_TYPES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"unknown aiokafka consumer setting {name!r}{hint}; known: "
                + ", ".join(sorted(_KAFKA_ARGUMENT_TYPES))
            )
        # JSON has no int/bool confusion to forgive: True is not a number of milliseconds.
        if type(value) is not expected:
            raise ValueError(f"{name!r} must be a {expected.__name__}, not {value!r}")
        checked[name] = value
    return checked


class BridgeSettings(BaseModel):
    """The bridge's settings. Field `kafka_topic` is read from KAFKA_TOPIC, and so on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Kafka
    kafka_bootstrap_servers: str = Field(description="Comma-separated `host:port` list.")
    kafka_topic: list[str] = Field(
        description="Topic to deliver; several may be given, comma-separated."
    )
    kafka_group_id: str = Field(
        description="Consumer group. With ACLs (Confluent Cloud) it must be the group allowed."
    )
    kafka_security_protocol: SecurityProtocol = Field(
        SecurityProtocol.PLAINTEXT, description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        SaslMechanism.PLAIN, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."
    )
    kafka_username: str | None = Field(None, description="SASL user name (API key).")
    kafka_password: SecretStr | None = Field(
        None, description="SASL password (API secret). Never logged."
    )
    kafka_ssl_ca_file: Path | None = Field(
        None, description="PEM file of CAs to trust instead of the system's."
    )
    kafka_starting_position: str = Field(
        "earliest",
        description=(
            "Where a group with no committed offset starts: `earliest`, `latest`, or an "
            "ISO-8601 timestamp."
        ),
    )
    kafka_properties: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            'JSON map of extra aiokafka consumer settings, e.g. `{"fetch_min_bytes": 100000}`;'
            " unknown names are rejected."
        ),
    )
    kafka_connect_timeout_seconds: float = Field(
        30.0, gt=0, description="How long start-up waits for the brokers to answer."
    )

    # Lambda
    lambda_function_name: str = Field(description="Function name or ARN (with `:qualifier`).")
    lambda_qualifier: str | None = Field(None, description="Version or alias to invoke.")
    aws_region: str | None = Field(
        None, description="Region of the function (ECS sets it). Default: the SDK's."
    )
    lambda_endpoint_url: str | None = Field(
        None, description="Lambda API endpoint, for local runs and tests."
    )
    lambda_invocation_type: InvocationType = Field(
        InvocationType.REQUEST_RESPONSE,
        description="`RequestResponse` (waits, retries errors) or `Event` (fire and forget).",
    )
    lambda_read_timeout_seconds: float = Field(
        910.0,
        ge=1,
        le=1000,
        description="Wait for a response; must exceed the function's own timeout (≤ 900 s).",
    )

    # Delivery
    payload_format: PayloadFormat = Field(
        PayloadFormat.NATIVE,
        description="`native` (Lambda's Kafka event), `legacy` (replaced bridge) or `value`.",
    )
    ordering: Ordering = Field(
        Ordering.key, description="`key`, `partition` (strict, one batch at a time) or `none`."
    )
    max_in_flight_per_partition: int = Field(
        2, ge=1, le=1000, description="Invocations in flight per partition."
    )
    max_in_flight_total: int = Field(
        100, ge=1, le=10_000, description="Invocations in flight over all partitions."
    )
    batch_size: int = Field(100, ge=1, le=10_000, description="Records per invocation, at most.")
    batch_max_bytes: int | None = Field(
        None,
        ge=1024,
        description="Payload bytes per invocation, at most. Default: Lambda's request limit.",
    )
    batch_window_ms: int = Field(
        0, ge=0, le=300_000, description="How long to wait to fill a batch (0: never wait)."
    )
    commit_interval_ms: int = Field(
        1000, ge=10, le=600_000, description="How often delivered offsets are committed."
    )
    max_buffered_records_per_partition: int = Field(
        1000, ge=1, description="Fetched records held per partition before fetching pauses."
    )
    max_buffered_bytes_per_partition: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="Fetched bytes held per partition before fetching pauses.",
    )
    max_retries: int = Field(
        3, ge=0, le=1000, description="Retries of a batch the function failed."
    )
    retry_backoff_base_ms: int = Field(
        100, ge=1, description="First retry delay (doubles each time, full jitter)."
    )
    retry_backoff_max_ms: int = Field(20_000, ge=1, description="Longest retry delay.")
    shutdown_timeout_seconds: float = Field(
        30.0, ge=0, le=110, description="Drain time on SIGTERM before the bridge gives up."
    )
    revoke_timeout_ms: int = Field(
        10_000,
        ge=0,
        description=(
            "Drain time for revoked partitions during a rebalance; below the rebalance timeout "
            "(60 s unless `rebalance_timeout_ms` is in KAFKA_PROPERTIES)."
        ),
    )

    # Failures
    dlq: str | None = Field(
        None,
        description=(
            "Dead letters: `s3://bucket/prefix`, `kafka://topic` (same cluster and "
            "credentials) or `file://directory` (local runs; `file:///abs` or `file://rel`). "
            "Unset: records the function keeps failing stall their partition."
        ),
    )
    on_failure: OnFailure | None = Field(
        None,
        description=(
            "`dlq` (default when DLQ is set) or `stall` (keep retrying; nothing passes the record)."
        ),
    )
    bisect_on_error: bool = Field(
        True,
        description="Split a failing batch in halves to find the failing records.",
    )
    max_record_age_seconds: int | None = Field(
        None,
        ge=1,
        description="Dead-letter a record still undelivered this long after it was written.",
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3 API endpoint for the dead letters, for local runs and tests."
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    health_file: Path = Field(
        Path(DEFAULT_HEALTH_FILE),
        description="Heartbeat file `python -m consumer.health` reads (must be writable).",
    )
    health_interval_seconds: float = Field(
        5.0, gt=0, le=60, description="How often the heartbeat is written."
    )
    stall_alarm_seconds: float = Field(
        300.0,
        gt=0,
        description=(
            "Unhealthy when nothing was delivered this long while there is lag and nothing "
            "is in flight."
        ),
    )
    metrics_interval_seconds: float = Field(
        60.0, gt=0, le=3600, description="How often a metrics (EMF) line is written to stdout."
    )
    metrics_namespace: str = Field(DEFAULT_NAMESPACE, description="CloudWatch namespace.")
    metrics_service: str = Field(
        "kafka-to-lambda", description="The `Service` dimension of every metric."
    )

    @field_validator("kafka_topic", mode="before")
    @classmethod
    def _split_topics(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [topic.strip() for topic in value.split(",") if topic.strip()]
        if not value:
            raise ValueError("name at least one topic")
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
        return _check_kafka_properties(value)

    @field_validator("kafka_starting_position")
    @classmethod
    def _check_starting_position(cls, value: str) -> str:
        if value in ("earliest", "latest"):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is neither earliest, latest nor an ISO-8601 timestamp"
            ) from None
        if moment.tzinfo is None:
            raise ValueError(f"{value!r} needs a time zone, e.g. {value}Z or {value}+00:00")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @model_validator(mode="after")
    def _check_combinations(self) -> BridgeSettings:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and (not self.kafka_username or self.kafka_password is None):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs KAFKA_USERNAME "
                "and KAFKA_PASSWORD"
            )
        if self.kafka_ssl_ca_file is not None and not self.kafka_ssl_ca_file.is_file():
            raise ValueError(f"KAFKA_SSL_CA_FILE: no file at {self.kafka_ssl_ca_file}")
        if self.dlq is not None:
            parse_dlq(self.dlq)  # raises ValueError naming the accepted forms
        if self.on_failure is OnFailure.DLQ and self.dlq is None:
            raise ValueError(
                "ON_FAILURE=dlq needs DLQ (s3://bucket/prefix, kafka://topic or file://dir)"
            )
        if self.max_record_age_seconds is not None and self.failure_mode is not OnFailure.DLQ:
            raise ValueError(
                "MAX_RECORD_AGE_SECONDS needs DLQ (and ON_FAILURE=dlq): an expired record "
                "must go somewhere"
            )
        limit = self.invocation_limit_bytes
        if self.batch_max_bytes is not None and self.batch_max_bytes > limit:
            raise ValueError(
                f"BATCH_MAX_BYTES={self.batch_max_bytes} is over Lambda's {limit}-byte limit "
                f"for {self.lambda_invocation_type} invocations"
            )
        rebalance_ms = self.rebalance_timeout_ms
        if self.revoke_timeout_ms >= rebalance_ms:
            raise ValueError(
                f"REVOKE_TIMEOUT_MS={self.revoke_timeout_ms} must be below the group's rebalance "
                f"timeout ({rebalance_ms} ms; rebalance_timeout_ms in KAFKA_PROPERTIES), or a "
                "slow drain would get this consumer thrown out of the group"
            )
        if self.retry_backoff_max_ms < self.retry_backoff_base_ms:
            raise ValueError("RETRY_BACKOFF_MAX_MS must be at least RETRY_BACKOFF_BASE_MS")
        return self

    @property
    def failure_mode(self) -> OnFailure:
        if self.on_failure is not None:
            return self.on_failure
        return OnFailure.STALL if self.dlq is None else OnFailure.DLQ

    @property
    def rebalance_timeout_ms(self) -> int:
        """How long the group waits for members to rejoin; the revoke drain must fit in it."""
        configured: int = self.kafka_properties.get(
            "rebalance_timeout_ms", DEFAULT_REBALANCE_TIMEOUT_MS
        )
        return configured

    @property
    def invocation_limit_bytes(self) -> int:
        if self.lambda_invocation_type is InvocationType.EVENT:
            return LAMBDA_EVENT_MAX_BYTES
        return LAMBDA_REQUEST_RESPONSE_MAX_BYTES

    @property
    def effective_batch_max_bytes(self) -> int:
        return self.batch_max_bytes or self.invocation_limit_bytes

    @property
    def starting_timestamp_ms(self) -> int | None:
        """The starting position as epoch milliseconds, when it is a timestamp."""
        if self.kafka_starting_position in ("earliest", "latest"):
            return None
        return int(datetime.fromisoformat(self.kafka_starting_position).timestamp() * 1000)


@dataclass(frozen=True)
class DlqLocation:
    scheme: Literal["s3", "kafka", "file"]
    target: str  # the bucket, the topic, or the directory (relative to the working directory)
    prefix: str = ""  # S3 only: where objects go in the bucket, ending in "/" unless empty


def parse_dlq(location: str) -> DlqLocation:
    scheme, sep, rest = location.partition("://")
    if sep and scheme == "s3" and rest.split("/", 1)[0]:
        bucket, _, prefix = rest.partition("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return DlqLocation("s3", bucket, prefix)
    if sep and scheme == "kafka" and rest and "/" not in rest:
        return DlqLocation("kafka", rest)
    # file:///abs/dir is absolute; file://dir/sub is relative (not a host, as in RFC 8089).
    if sep and scheme == "file" and rest.strip("/"):
        return DlqLocation("file", rest)
    raise ValueError(
        f"DLQ={location!r} is not s3://bucket/prefix, kafka://topic or file://directory"
    )


def env_name(field: str) -> str:
    return field.upper()


def load_settings(environ: Mapping[str, str] | None = None) -> BridgeSettings:
    """Reads the settings, turning every validation problem into one ConfigurationError."""
    source = os.environ if environ is None else environ
    values = {
        name: source[env_name(name)]
        for name in BridgeSettings.model_fields
        if env_name(name) in source
    }
    try:
        return BridgeSettings.model_validate(values)
    except ValidationError as invalid:
        raise ConfigurationError(_describe(invalid)) from None


def _describe(invalid: ValidationError) -> str:
    problems = []
    for error in invalid.errors(include_input=False, include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            description = BridgeSettings.model_fields[field].description or ""
            problems.append(f"{env_name(field)} is required: {description}")
        elif field:
            problems.append(f"{env_name(field)}: {message}")
        else:
            problems.append(message)
    return "invalid settings: " + "; ".join(problems)
