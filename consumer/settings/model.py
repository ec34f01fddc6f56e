"""Every setting of the bridge, each declared once: one typed object read from the environment.

`BridgeSettings` is composed of one group of fields per concern, each in a file of its own:
Kafka (kafka.py), Lambda (aws_lambda.py), records (decoding.py), delivery (delivery.py),
failures (failures.py), large records (large_records.py), answers (answers.py) and operations
(operations.py). A field is declared with `setting(...)` (declarations.py): its variable is its
name upper-cased; with it stand its type, default, range or choices, one-line doc, and its
stack key for the Pulumi program. The tables in docs/ and `Pulumi.yaml`'s bridge keys are
generated from these declarations, and the Pulumi program validates a stack with this very
class, so these files are the one place that knows each setting. A rule within one group is
that group's; rules across groups are this model validator's, and only here.

Imports: pydantic, the standard library and the settings' own vocabularies (the Pulumi
program loads this module).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import ConfigDict, ValidationError, model_validator

from consumer.errors import ConfigurationError
from consumer.settings.answers import AnswerSettings, parse_answer_topic
from consumer.settings.aws_lambda import InvocationType, LambdaSettings
from consumer.settings.declarations import SettingProblem, SettingRuleError, declarations, problems
from consumer.settings.decoding import DecodingSettings
from consumer.settings.delivery import DeliverySettings
from consumer.settings.failures import FailureSettings, OnFailure, parse_dlq, parse_overflow
from consumer.settings.kafka import AT_TIMESTAMP, KafkaSettings
from consumer.settings.large_records import LargeRecordSettings
from consumer.settings.operations import OperationsSettings


# pydantic lays out the fields of the last base first: the groups are listed last to first,
# so the fields (and every table generated from them) come in the order of the docs.
class BridgeSettings(
    OperationsSettings,
    AnswerSettings,
    LargeRecordSettings,
    FailureSettings,
    DeliverySettings,
    DecodingSettings,
    LambdaSettings,
    KafkaSettings,
):
    """The bridge's settings. Field `kafka_topic` is read from KAFKA_TOPIC, and so on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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
        self._check_dead_letters()
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
        self._check_answer_topics()
        limit = self.invocation_limit_bytes
        if self.batch_max_bytes is not None and self.batch_max_bytes > limit:
            raise SettingRuleError(
                "batch_max_bytes",
                f"BATCH_MAX_BYTES={self.batch_max_bytes} is over Lambda's {limit}-byte limit "
                f"for {self.lambda_invocation_type} invocations",
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

    def _check_answer_topics(self) -> None:
        for field in ("response_topic", "error_topic"):
            location = getattr(self, field)
            if location is None:
                continue
            variable = env_name(field)
            try:
                parse_answer_topic(variable, location)
            except ValueError as bad:
                raise SettingRuleError(field, str(bad)) from None
            if self.lambda_invocation_type is InvocationType.EVENT:
                raise SettingRuleError(
                    field,
                    f"{variable} needs LAMBDA_INVOCATION_TYPE=RequestResponse: an Event "
                    f"invocation returns no answer and no error to produce. Unset {variable} "
                    "or invoke with RequestResponse",
                )

    def _check_dead_letters(self) -> None:
        scheme = None
        if self.dlq is not None:
            try:
                scheme = parse_dlq(self.dlq).scheme
            except ValueError as bad:
                raise SettingRuleError("dlq", str(bad)) from None
        messages = scheme in ("sqs", "sns")
        if self.dlq_overflow is None:
            if messages:  # a record of unknown size might fit no message: refused now, not lost
                raise SettingRuleError(
                    "dlq_overflow",
                    "DLQ_OVERFLOW is required with an SQS or SNS DLQ: set it to "
                    "s3://bucket/prefix, where a dead letter too large for a message goes",
                )
            return
        if not messages:
            raise SettingRuleError(
                "dlq_overflow", "DLQ_OVERFLOW goes with an SQS or SNS DLQ only: unset it"
            )
        try:
            parse_overflow(self.dlq_overflow)
        except ValueError as bad:
            raise SettingRuleError("dlq_overflow", str(bad)) from None

    @property
    def secret_values(self) -> list[str]:
        """The values of the secret settings that are set: never in a log line."""
        values = (getattr(self, d.field) for d in DECLARATIONS if d.secret)
        return [value.get_secret_value() for value in values if value is not None]

    @property
    def effective_batch_max_bytes(self) -> int:
        return self.batch_max_bytes or self.invocation_limit_bytes


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
