"""Every setting of the bridge, each declared once: one typed object read from the environment.

A field is declared with `setting(...)` (consumer/declarations.py): its variable is its name
upper-cased; with it stand its type, default, range or choices, one-line doc, and its stack
key for the Pulumi program. The tables in docs/ and `Pulumi.yaml`'s bridge keys are generated
from these declarations, and the Pulumi program validates a stack with this very class, so
this file is the one place that knows each setting. Rules across settings are the model
validator's, and only there.

Imports: pydantic and the standard library only (the Pulumi program loads this module).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from consumer.backoff import Backoff
from consumer.declarations import SettingProblem, SettingRuleError, declarations, problems, setting
from consumer.errors import ConfigurationError
from consumer.filter_patterns import Pattern, compile_patterns
from consumer.health import DEFAULT_HEALTH_FILE
from consumer.kafka_arguments import check_kafka_properties
from consumer.limits import LAMBDA_EVENT_MAX_BYTES, LAMBDA_REQUEST_RESPONSE_MAX_BYTES
from consumer.metrics import DEFAULT_NAMESPACE
from consumer.ordering import Ordering
from consumer.payload_format import PayloadFormat
from consumer.pem import check_pem_or_path

# aiokafka's own default is the session timeout (10 s): too short for draining revoked
# partitions whose function takes seconds. Java clients use max.poll.interval.ms (5 min).
DEFAULT_REBALANCE_TIMEOUT_MS = 60_000


GLUE_REGISTRY_ARN = re.compile(
    r"arn:aws[a-z-]*:glue:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):registry/(?P<name>[\w.-]{1,255})"
)


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


class OnFailure(StrEnum):
    DLQ = "dlq"
    STALL = "stall"


class SchemaParts(StrEnum):
    """Which parts of a record are in a schema registry's wire format (SCHEMA_DECODE)."""

    VALUE = "value"
    KEY = "key"
    BOTH = "both"

    @property
    def includes_value(self) -> bool:
        return self is not SchemaParts.KEY

    @property
    def includes_key(self) -> bool:
        return self is not SchemaParts.VALUE


class SchemaRecordFormat(StrEnum):
    """What the function receives of a decoded part: Lambda's EventRecordFormat."""

    SOURCE = "SOURCE"  # the record's bytes as they are
    JSON = "JSON"  # the decoded record as JSON text


class InvocationType(StrEnum):
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonBlank = Annotated[str, AfterValidator(_not_blank)]


def _port_of(url: str) -> int | None:
    """The URL's explicit port (None if it names none); 0 if it names one that is not."""
    try:
        return urlsplit(url).port
    except ValueError:  # not a number, or above 65535
        return 0


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


class BridgeSettings(BaseModel):
    """The bridge's settings. Field `kafka_topic` is read from KAFKA_TOPIC, and so on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Kafka
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

    # Lambda
    lambda_function_name: NonBlank = setting(
        doc="Function name or ARN (with `:qualifier`).",
        stack="lambdaFunctionName",
        example="<function name or ARN>",
    )
    lambda_qualifier: str | None = setting(
        None, doc="Version or alias to invoke.", stack="lambdaQualifier"
    )
    aws_region: str | None = setting(
        None,
        doc="Region of the function (ECS sets it). Default: the SDK's, else the function ARN's.",
    )
    lambda_endpoint_url: str | None = setting(
        None, doc="Lambda API endpoint, for local runs and tests."
    )
    lambda_invocation_type: InvocationType = setting(
        InvocationType.REQUEST_RESPONSE,
        doc="`RequestResponse` (waits, retries errors) or `Event` (fire and forget).",
        stack="lambdaInvocationType",
    )
    lambda_read_timeout_seconds: float = setting(
        910.0,
        ge=1,
        le=1000,
        doc="Wait for a response; must exceed the function's own timeout (≤ 900 s).",
        stack="lambdaReadTimeoutSeconds",
    )

    # Delivery
    payload_format: PayloadFormat = setting(
        PayloadFormat.NATIVE,
        doc="`native` (Lambda's Kafka event), `legacy` (replaced bridge) or `value`.",
        stack="payloadFormat",
    )
    filter_patterns: str | None = setting(
        None,
        doc=(
            "Lambda filter patterns as a JSON list: only records matching one are invoked, "
            "the others are committed without an invocation. See Filtering."
        ),
        stack="filterPatterns",
        example="""'[{"value": {"type": ["allele"]}}]'""",
    )
    # Schema registries
    schema_registry_url: str | None = setting(
        None,
        doc=(
            "A Confluent-compatible schema registry (Confluent Cloud, Confluent Platform, "
            "Apicurio's `/apis/ccompat/v7`): records in its wire format are decoded. See "
            "Schema registries."
        ),
        stack="schemaRegistryUrl",
        example="https://psrc-<id>.<region>.<cloud>.confluent.cloud",
    )
    schema_registry_key: str | None = setting(
        None,
        doc="The registry's basic-auth user name (Confluent Cloud: the registry API key).",
        stack="schemaRegistryKey",
        example="<registry API key>",
    )
    schema_registry_secret: SecretStr | None = setting(
        None,
        doc="The registry's basic-auth password (the registry API secret). Never logged.",
        stack="schemaRegistrySecret",
    )
    glue_schema_registry_arn: str | None = setting(
        None,
        doc=(
            "Instead of SCHEMA_REGISTRY_URL: an AWS Glue schema registry's ARN; records in "
            "Glue's wire format are decoded with the task's AWS credentials."
        ),
        stack="glueSchemaRegistryArn",
        example="arn:aws:glue:<region>:<account>:registry/<name>",
    )
    glue_endpoint_url: str | None = setting(
        None, doc="Glue API endpoint, for local runs and tests."
    )
    schema_decode: SchemaParts = setting(
        SchemaParts.VALUE,
        doc="Which parts are in the registry's wire format: `value`, `key` or `both`.",
        stack="schemaDecode",
    )
    schema_record_format: SchemaRecordFormat = setting(
        SchemaRecordFormat.SOURCE,
        doc=(
            "What the function gets of a decoded part: `SOURCE` (its bytes as they are) or "
            "`JSON` (the decoded record as JSON text), as Lambda's EventRecordFormat."
        ),
        stack="schemaRecordFormat",
    )
    ordering: Ordering = setting(
        Ordering.key,
        doc="`key`, `partition` (strict, one batch at a time) or `none`.",
        stack="ordering",
    )
    max_in_flight_per_partition: int = setting(
        2,
        ge=1,
        le=1000,
        doc="Invocations in flight per partition.",
        stack="maxInFlightPerPartition",
    )
    max_in_flight_total: int = setting(
        100,
        ge=1,
        le=10_000,
        doc="Invocations in flight over all partitions.",
        stack="maxInFlightTotal",
    )
    batch_size: int = setting(
        100, ge=1, le=10_000, doc="Records per invocation, at most.", stack="batchSize"
    )
    batch_max_bytes: int | None = setting(
        None,
        ge=1024,
        doc="Payload bytes per invocation, at most. Default: Lambda's request limit.",
        stack="batchMaxBytes",
    )
    batch_window_ms: int = setting(
        0,
        ge=0,
        le=300_000,
        doc="How long to wait to fill a batch (0: never wait).",
        stack="batchWindowMs",
    )
    commit_interval_ms: int = setting(
        1000,
        ge=10,
        le=600_000,
        doc="How often delivered offsets are committed.",
        stack="commitIntervalMs",
    )
    max_buffered_records_per_partition: int = setting(
        1000,
        ge=1,
        doc="Fetched records held per partition before fetching pauses.",
        stack="maxBufferedRecordsPerPartition",
    )
    max_buffered_bytes_per_partition: int = setting(
        4 * 1024 * 1024,
        ge=1024,
        doc="Fetched bytes held per partition before fetching pauses.",
        stack="maxBufferedBytesPerPartition",
    )
    max_retries: int = setting(
        3, ge=0, le=1000, doc="Retries of a batch the function failed.", stack="maxRetries"
    )
    retry_backoff_base_ms: int = setting(
        100,
        ge=1,
        doc="First retry delay (doubles each time, full jitter).",
        stack="retryBackoffBaseMs",
    )
    retry_backoff_max_ms: int = setting(
        20_000, ge=1, doc="Longest retry delay.", stack="retryBackoffMaxMs"
    )
    retry_function_errors_for_seconds: int = setting(
        300,
        ge=0,
        le=86_400,
        doc=(
            "How long a batch the function fails is retried (and at least `MAX_RETRIES` "
            "times) before it is split and what still fails is dead-lettered: a burst of "
            "errors shorter than this dead-letters nothing."
        ),
        stack="retryFunctionErrorsForSeconds",
    )
    function_error_backoff_max_ms: int = setting(
        2_000,
        ge=1,
        doc=(
            "Longest delay between retries of a batch the function failed: a function that "
            "heals gets its records this soon."
        ),
        stack="functionErrorBackoffMaxMs",
    )
    shutdown_timeout_seconds: float = setting(
        30.0,
        ge=0,
        le=110,
        doc=(
            "The whole stop on SIGTERM: delivering what is buffered, the last commit, leaving "
            "the group (on ECS the task's stop timeout is 10 s above it)."
        ),
        stack="shutdownTimeoutSeconds",
    )
    revoke_timeout_ms: int = setting(
        10_000,
        ge=0,
        doc=(
            "Drain time for revoked partitions during a rebalance when the function's timeout "
            "cannot be read (otherwise that timeout and 5 s); below the rebalance timeout "
            "(60 s unless `rebalance_timeout_ms` is in KAFKA_PROPERTIES)."
        ),
        stack="revokeTimeoutMs",
    )

    # Failures
    dlq: str | None = setting(
        None,
        doc=(
            "Dead letters: `s3://bucket/prefix`, `kafka://topic` (same cluster and "
            "credentials) or `file://directory` (local runs; `file:///abs` or `file://rel`). "
            "Unset: records the function keeps failing stall their partition."
        ),
        stack="dlq",
        stack_doc=(
            "An existing dead-letter destination, s3://<bucket>/<prefix> or kafka://<topic>. "
            "Empty: the stack creates a bucket and uses s3://<bucket>/<dlqPrefix>."
        ),
        example="s3://<bucket>/<prefix>/",
    )
    on_failure: OnFailure | None = setting(
        None,
        doc=(
            "`dlq` (default when DLQ is set) or `stall` (keep retrying; nothing passes the record)."
        ),
        stack="onFailure",
        stack_default=OnFailure.DLQ.value,  # a stack always has a dead-letter destination
    )
    bisect_on_error: bool = setting(
        True,
        doc="Split a failing batch in halves to find the failing records.",
        stack="bisectOnError",
    )
    max_record_age_seconds: int | None = setting(
        None,
        ge=1,
        doc="Dead-letter a record still undelivered this long after it was written.",
        stack="maxRecordAgeSeconds",
    )
    s3_endpoint_url: str | None = setting(
        None, doc="S3 API endpoint for the dead letters, for local runs and tests."
    )
    log_level: str = setting("INFO", doc="DEBUG, INFO, WARNING or ERROR.", stack="logLevel")
    health_file: Path = setting(
        Path(DEFAULT_HEALTH_FILE),
        doc="Heartbeat file `python -m consumer.health` reads (must be writable).",
    )
    health_interval_seconds: float = setting(
        5.0, gt=0, le=60, doc="How often the heartbeat is written."
    )
    stall_alarm_seconds: float = setting(
        300.0,
        gt=0,
        doc=(
            "Unhealthy when nothing was delivered this long while there is lag and nothing "
            "is in flight."
        ),
    )
    metrics_interval_seconds: float = setting(
        60.0, gt=0, le=3600, doc="How often a metrics (EMF) line is written to stdout."
    )
    metrics_namespace: str = setting(DEFAULT_NAMESPACE, doc="CloudWatch namespace.")
    metrics_service: str = setting(
        "kafka-to-lambda", doc="The `Service` dimension of every metric."
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

    @field_validator("filter_patterns")
    @classmethod
    def _check_filter_patterns(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            compile_patterns(value)  # a FilterPatternError is a ValueError: one line
            return value
        return None

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

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _check_brokers(cls, value: str) -> str:
        broker_addresses(value)
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> BridgeSettings:
        """The rules across settings, all of them: each names the setting to change."""
        if self.kafka_topic is None and self.kafka_topic_pattern is None:
            raise SettingRuleError(
                "kafka_topic",
                "KAFKA_TOPIC is required: the topics to deliver (or a pattern in "
                "KAFKA_TOPIC_PATTERN)",
            )
        if self.kafka_topic is not None and self.kafka_topic_pattern is not None:
            raise SettingRuleError(
                "kafka_topic_pattern", "KAFKA_TOPIC_PATTERN and KAFKA_TOPIC exclude each other"
            )
        self._check_kafka_security()
        if self.kafka_ssl_ca_file is not None and not self.kafka_ssl_ca_file.is_file():
            raise SettingRuleError(
                "kafka_ssl_ca_file", f"KAFKA_SSL_CA_FILE: no file at {self.kafka_ssl_ca_file}"
            )
        at_timestamp = self.kafka_starting_position == AT_TIMESTAMP
        if at_timestamp != (self.kafka_starting_position_timestamp is not None):
            raise SettingRuleError(
                "kafka_starting_position_timestamp",
                "KAFKA_STARTING_POSITION_TIMESTAMP goes with KAFKA_STARTING_POSITION=AT_TIMESTAMP,"
                " and only with it",
            )
        if self.dlq is not None:
            try:
                parse_dlq(self.dlq)
            except ValueError as bad:
                raise SettingRuleError("dlq", str(bad)) from None
        if self.on_failure is OnFailure.DLQ and self.dlq is None:
            raise SettingRuleError(
                "dlq", "ON_FAILURE=dlq needs DLQ (s3://bucket/prefix, kafka://topic or file://dir)"
            )
        if self.max_record_age_seconds is not None and self.failure_mode is not OnFailure.DLQ:
            raise SettingRuleError(
                "max_record_age_seconds",
                "MAX_RECORD_AGE_SECONDS needs DLQ (and ON_FAILURE=dlq): an expired record "
                "must go somewhere",
            )
        limit = self.invocation_limit_bytes
        if self.batch_max_bytes is not None and self.batch_max_bytes > limit:
            raise SettingRuleError(
                "batch_max_bytes",
                f"BATCH_MAX_BYTES={self.batch_max_bytes} is over Lambda's {limit}-byte limit "
                f"for {self.lambda_invocation_type} invocations",
            )
        rebalance_ms = self.rebalance_timeout_ms
        if self.revoke_timeout_ms >= rebalance_ms:
            raise SettingRuleError(
                "revoke_timeout_ms",
                f"REVOKE_TIMEOUT_MS={self.revoke_timeout_ms} must be below the group's rebalance "
                f"timeout ({rebalance_ms} ms; rebalance_timeout_ms in KAFKA_PROPERTIES), or a "
                "slow drain would get this consumer thrown out of the group",
            )
        self._check_schema_registry()
        if self.retry_backoff_max_ms < self.retry_backoff_base_ms:
            raise SettingRuleError(
                "retry_backoff_max_ms",
                "RETRY_BACKOFF_MAX_MS must be at least RETRY_BACKOFF_BASE_MS",
            )
        if self.function_error_backoff_max_ms < self.retry_backoff_base_ms:
            raise SettingRuleError(
                "function_error_backoff_max_ms",
                "FUNCTION_ERROR_BACKOFF_MAX_MS must be at least RETRY_BACKOFF_BASE_MS",
            )
        return self

    def _check_schema_registry(self) -> None:
        """One registry at most; its credentials together; decoding settings need one."""
        url, glue = self.schema_registry_url, self.glue_schema_registry_arn
        if url is not None and glue is not None:
            raise SettingRuleError(
                "glue_schema_registry_arn",
                "GLUE_SCHEMA_REGISTRY_ARN and SCHEMA_REGISTRY_URL exclude each other: one "
                "registry decodes the records",
            )
        if url is not None and not re.fullmatch(r"https?://[^\s/@]+(/\S*)?", url):
            raise SettingRuleError(
                "schema_registry_url",
                "SCHEMA_REGISTRY_URL is not an http:// or https:// URL without credentials in "
                "it (they go in SCHEMA_REGISTRY_KEY and SCHEMA_REGISTRY_SECRET)",
            )
        if url is not None and _port_of(url) == 0:
            raise SettingRuleError(
                "schema_registry_url",
                "SCHEMA_REGISTRY_URL names a port no connection can use (1 to 65535)",
            )
        if glue is not None and not GLUE_REGISTRY_ARN.fullmatch(glue):
            raise SettingRuleError(
                "glue_schema_registry_arn",
                f"GLUE_SCHEMA_REGISTRY_ARN={glue!r} is not a Glue registry ARN "
                "(arn:aws:glue:<region>:<account>:registry/<name>)",
            )
        credentials = (self.schema_registry_key, self.schema_registry_secret)
        if any(part is not None for part in credentials):
            if url is None:
                raise SettingRuleError(
                    "schema_registry_url",
                    "SCHEMA_REGISTRY_KEY and SCHEMA_REGISTRY_SECRET are for a registry at "
                    "SCHEMA_REGISTRY_URL (Glue uses the task's AWS credentials)",
                )
            if not all(part is not None for part in credentials):
                raise SettingRuleError(
                    "schema_registry_secret" if credentials[1] is None else "schema_registry_key",
                    "SCHEMA_REGISTRY_KEY and SCHEMA_REGISTRY_SECRET go together (basic auth)",
                )
        if url is None and glue is None:
            # Only a choice away from the default needs a registry: a stack gives every key.
            chosen = [
                name
                for name, default in (
                    ("schema_decode", SchemaParts.VALUE),
                    ("schema_record_format", SchemaRecordFormat.SOURCE),
                    ("glue_endpoint_url", None),
                )
                if getattr(self, name) != default
            ]
            if chosen:
                raise SettingRuleError(
                    chosen[0],
                    f"{chosen[0].upper()} needs a registry: SCHEMA_REGISTRY_URL or "
                    "GLUE_SCHEMA_REGISTRY_ARN",
                )

    @property
    def retry_backoff(self) -> Backoff:
        """The one retry policy, as RETRY_BACKOFF_BASE_MS and RETRY_BACKOFF_MAX_MS set it."""
        return Backoff(self.retry_backoff_base_ms / 1000, self.retry_backoff_max_ms / 1000)

    @property
    def function_error_backoff(self) -> Backoff:
        """The same policy for the function's own errors, capped lower: a function that
        failed for a while is tried again soon after it heals."""
        cap_ms = min(self.retry_backoff_max_ms, self.function_error_backoff_max_ms)
        return Backoff(self.retry_backoff_base_ms / 1000, cap_ms / 1000)

    @property
    def decodes_schemas(self) -> bool:
        """A schema registry is set: parts of each record are in its wire format."""
        return self.schema_registry_url is not None or self.glue_schema_registry_arn is not None

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
        if self.kafka_starting_position == AT_TIMESTAMP:
            assert self.kafka_starting_position_timestamp is not None  # a rule says so
            return int(parse_moment(self.kafka_starting_position_timestamp).timestamp() * 1000)
        return int(datetime.fromisoformat(self.kafka_starting_position).timestamp() * 1000)

    @property
    def compiled_filter_patterns(self) -> list[Pattern]:
        """FILTER_PATTERNS, compiled; empty when no filtering."""
        return [] if self.filter_patterns is None else compile_patterns(self.filter_patterns)

    @property
    def topics_description(self) -> str:
        """What the bridge consumes, in a line: the topics, or the pattern."""
        if self.kafka_topic is not None:
            return ",".join(self.kafka_topic)
        return f"/{self.kafka_topic_pattern}/"


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


def env_name(field: str) -> str:
    return field.upper()


DECLARATIONS = declarations(BridgeSettings)


def load_settings(environ: Mapping[str, str] | None = None) -> BridgeSettings:
    """Reads the settings, turning every validation problem into one ConfigurationError
    (its `problems` list them, for callers that word them their own way)."""
    source = os.environ if environ is None else environ
    values = {
        declaration.field: source[declaration.env]
        for declaration in DECLARATIONS
        if declaration.env in source
    }
    try:
        return BridgeSettings.model_validate(values)
    except ValidationError as invalid:
        found = list(problems(invalid))
        raise ConfigurationError(_describe(found), found) from None


def _describe(found: list[SettingProblem]) -> str:
    docs = {declaration.field: declaration.doc for declaration in DECLARATIONS}
    lines = []
    for problem in found:
        if problem.kind == "missing":
            lines.append(f"{env_name(problem.field)} is required: {docs[problem.field]}")
        elif problem.kind == "invalid":
            lines.append(f"{env_name(problem.field)}: {problem.message}")
        else:
            lines.append(problem.message)
    return "invalid settings: " + "; ".join(lines)
