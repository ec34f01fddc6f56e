"""Every stack setting of the Pulumi program, read once from `pulumi.Config` and checked before
any resource is declared.

Two kinds of keys (camelCase, in the project namespace: `kafka-to-lambda:topic`):
- the bridge's, declared in `consumer.settings.BridgeSettings` with their stack keys. Their
  values become the container's environment (secrets: SSM → the task definition's
  `secrets`), and are validated by the bridge's own model, so a bad value stops `pulumi up`
  with the message the container would log, in stack keys;
- the deployment's own (task size, network, image, logs, dead-letter bucket, alarms,
  scaling), declared once each in `InfraSettings` below, in the same style.
`Pulumi.yaml`'s `config:` block is generated from both (a test keeps it so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import pulumi
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from consumer.errors import ConfigurationError as BridgeConfigurationError
from consumer.schemas.glue_access import GlueRegistryArn
from consumer.settings.aws_destinations import AwsDestination
from consumer.settings.declarations import (
    SettingProblem,
    SettingRuleError,
    problems,
    setting,
    stack_declarations,
    to_text,
)
from consumer.settings.failures import parse_dlq, parse_overflow
from consumer.settings.kafka import SaslMechanism, broker_addresses
from consumer.settings.large_records import LargeRecordsLocation, parse_large_records
from consumer.settings.model import BridgeSettings, env_name, load_settings
from infra.dead_letters import (
    DeadLetterTarget,
    KafkaTopic,
    MessageDestination,
    S3Location,
    normalize_prefix,
)
from infra.fargate import FARGATE_MEMORY_MIB_BY_CPU, MAX_STOP_TIMEOUT_S, describe_memory_choices
from infra.iam import check_function_name
from infra.msk import MskCluster
from infra.schema_registry import registry_port
from infra.stack_config import (
    PROJECT,
    SECRET_PLACEHOLDER,
    ConfigurationError,
    StackConfig,
    configuration_error,
)

__all__ = ["PROJECT", "ConfigurationError", "InfraSettings", "StackSettings"]

# What CloudWatch Logs accepts as a retention (0: never expire).
LOG_RETENTION_DAYS: Final = (
    0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
# The task's stopTimeout is this much above the bridge's drain time (at most 110 s).
STOP_TIMEOUT_MARGIN_S: Final = 10
# The bridge's dead-letter variable: the stack gives it the bucket it creates, if it creates one.
DLQ_VARIABLE: Final = env_name("dlq")
# With an SQS or SNS DLQ: its overflow location, the stack's bucket unless the stack names one.
DLQ_OVERFLOW_VARIABLE: Final = env_name("dlq_overflow")
# Stands in for the bucket the stack creates while the bridge's settings are validated.
STACK_BUCKET_PLACEHOLDER: Final = "the-stacks-dead-letter-bucket"
LARGE_RECORDS_VARIABLE: Final = env_name("large_records")
# Stands in for the claim-check bucket the stack creates, in the same way.
STACK_LARGE_RECORDS_PLACEHOLDER: Final = "the-stacks-large-record-bucket"


class CpuArchitecture(StrEnum):
    X86_64 = "X86_64"
    ARM64 = "ARM64"


class InfraSettings(BaseModel):
    """The deployment's own settings; each field is one stack key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Dead letters (the bucket the stack creates when `dlq` is empty)
    dlq_prefix: str = setting(
        "dead-letters/",
        doc=(
            "Key prefix of dead letters in the stack's bucket (with an SQS or SNS dlq, of those "
            "too large for a message); the task may write only under it."
        ),
        stack="dlqPrefix",
    )
    dlq_force_destroy: bool = setting(
        False,
        doc=(
            "Let `pulumi destroy` delete the dead-letter bucket and the letters in it. False: "
            "the bucket is kept."
        ),
        stack="dlqForceDestroy",
    )
    dlq_retention_days: int = setting(
        365,
        ge=1,
        doc="Days a dead letter is kept in the stack's bucket before it expires.",
        stack="dlqRetentionDays",
    )
    dlq_kms_key_arn: str | None = setting(
        None,
        doc=(
            "With an SQS or SNS dlq encrypted with a customer managed key: that key's ARN; the "
            "task may use it (kms:GenerateDataKey, kms:Decrypt) to send dead letters. Empty: "
            "the queue or topic is unencrypted or uses the AWS managed key."
        ),
        stack="dlqKmsKeyArn",
        pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$",
        example="arn:aws:kms:<region>:<account>:key/<key id>",
    )
    # Claim checks (the bucket the stack creates when `largeRecordsBucket` is true)
    large_records_bucket: bool = setting(
        False,
        doc=(
            "Create a bucket for the claim checks of records too large for an invocation, "
            "and store them there (instead of naming one in `largeRecords`)."
        ),
        stack="largeRecordsBucket",
    )
    large_records_prefix: str = setting(
        "large-records/",
        doc="Key prefix of claim checks in the stack's bucket; the task may write only under it.",
        stack="largeRecordsPrefix",
    )
    large_records_retention_days: int = setting(
        7,
        ge=1,
        doc="Days a claim check is kept in the stack's bucket before it expires.",
        stack="largeRecordsRetentionDays",
    )
    large_records_force_destroy: bool = setting(
        False,
        doc=(
            "Let `pulumi destroy` delete the claim-check bucket and its objects. False: the "
            "bucket is kept."
        ),
        stack="largeRecordsForceDestroy",
    )
    # ECS, network, image, logs, secrets
    desired_count: int = setting(
        1,
        ge=0,
        doc="Tasks to run; more than the topic's partitions leaves the extra ones idle.",
        stack="desiredCount",
    )
    cpu: int = setting(
        512,
        doc="Task CPU units (" + ", ".join(map(str, FARGATE_MEMORY_MIB_BY_CPU)) + ").",
        stack="cpu",
    )
    memory: int = setting(
        1024,
        doc="Task memory in MiB; Fargate allows only some sizes with each cpu.",
        stack="memory",
    )
    cpu_architecture: CpuArchitecture = setting(
        CpuArchitecture.X86_64,
        doc="X86_64 or ARM64; the image is built for it.",
        stack="cpuArchitecture",
    )
    vpc_id: str | None = setting(
        None,
        doc="VPC of the tasks. Empty: the account's default VPC.",
        stack="vpcId",
        example="<vpc-…>",
    )
    subnet_ids: list[str] = setting(
        default_factory=list,
        doc="Subnets of the tasks (needs vpcId). Empty: every subnet of the VPC.",
        stack="subnetIds",
        example="<subnet-…>",
    )
    assign_public_ip: bool = setting(
        True,
        doc=(
            "Give tasks a public IP: needed in public subnets without a NAT gateway, like the "
            "default VPC's."
        ),
        stack="assignPublicIp",
    )
    image: str | None = setting(
        None,
        doc=(
            "A prebuilt image to run instead of building this repository's Dockerfile (then "
            "no ECR repository is created)."
        ),
        stack="image",
    )
    image_retention_count: int = setting(
        10,
        ge=1,
        doc="Images the ECR repository keeps; older ones expire.",
        stack="imageRetentionCount",
    )
    log_retention_days: int = setting(
        14,
        doc="Days CloudWatch keeps the container logs (one of CloudWatch's values; 0: forever).",
        stack="logRetentionDays",
    )
    kms_key_id: str | None = setting(
        None,
        doc=(
            "KMS key (id, ARN or alias/…) encrypting the secret parameters. Empty: the "
            "account's aws/ssm key."
        ),
        stack="kmsKeyId",
    )
    log_kms_key_arn: str | None = setting(
        None,
        doc=(
            "KMS key ARN encrypting the log group (its key policy must let CloudWatch Logs use "
            "it). Empty: CloudWatch Logs' own encryption."
        ),
        stack="logKmsKeyArn",
        pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]+$",
        example="arn:aws:kms:<region>:<account>:key/<key id>",
    )
    msk_cluster_arn: str | None = setting(
        None,
        doc=(
            "With saslMechanism AWS_MSK_IAM: the MSK cluster's ARN; the task role may then "
            "connect to it, read the topics, use the group (and write a Kafka dead-letter "
            "topic), nothing else."
        ),
        stack="mskClusterArn",
        example="arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>",
    )
    # Alarms, dashboard, autoscaling
    alarms: bool = setting(
        True,
        doc="Create the CloudWatch alarms (and their SNS topic). The dashboard is always made.",
        stack="alarms",
    )
    alarm_email: str | None = setting(
        None,
        doc="Address subscribed to the alarms' SNS topic (confirm the e-mail AWS sends).",
        stack="alarmEmail",
        example="oncall@example.org",
    )
    lag_alarm_threshold: int = setting(
        10_000,
        ge=1,
        doc="Alarm when a partition is more than this many records behind ...",
        stack="lagAlarmThreshold",
    )
    lag_alarm_minutes: int = setting(
        10, ge=1, le=1440, doc="... for this many minutes in a row.", stack="lagAlarmMinutes"
    )
    function_error_rate_percent: int = setting(
        5,
        ge=1,
        le=100,
        doc="Alarm when more than this percentage of invocations fail for 5 minutes.",
        stack="functionErrorRatePercent",
    )
    stall_alarm_minutes: int = setting(
        15,
        ge=1,
        le=1440,
        doc="Alarm when records wait but none is delivered (or filtered) for this many minutes.",
        stack="stallAlarmMinutes",
    )
    autoscaling: bool = setting(
        False,
        doc="Scale the task count on consumer lag per task (needs partitions).",
        stack="autoscaling",
    )
    partitions: int | None = setting(
        None,
        ge=1,
        doc="The topic's partition count; caps desiredCount and maxTasks.",
        stack="partitions",
        example="<the topic's partition count>",
    )
    min_tasks: int = setting(1, ge=0, doc="Autoscaling minimum task count.", stack="minTasks")
    max_tasks: int | None = setting(
        None,
        ge=1,
        doc="Autoscaling maximum task count (unset: partitions; never more than partitions).",
        stack="maxTasks",
    )
    target_lag_per_task: int = setting(
        1000,
        ge=1,
        doc="Autoscaling keeps total lag divided by running tasks near this many records.",
        stack="targetLagPerTask",
    )

    @field_validator("dlq_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if value.startswith("/"):
            raise SettingRuleError("dlq_prefix", "dlqPrefix must not start with '/'")
        return normalize_prefix(value)

    @field_validator("large_records_prefix")
    @classmethod
    def _check_large_records_prefix(cls, value: str) -> str:
        if value.startswith("/"):
            raise SettingRuleError(
                "large_records_prefix", "largeRecordsPrefix must not start with '/'"
            )
        return normalize_prefix(value)

    @field_validator("cpu")
    @classmethod
    def _check_cpu(cls, value: int) -> int:
        if value not in FARGATE_MEMORY_MIB_BY_CPU:
            raise SettingRuleError(
                "cpu",
                f"cpu is {value}, which Fargate does not offer (CPU units: "
                + ", ".join(map(str, FARGATE_MEMORY_MIB_BY_CPU))
                + ")",
            )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _check_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise SettingRuleError(
                "log_retention_days",
                f"logRetentionDays is {value}, which CloudWatch Logs does not offer (one of "
                + ", ".join(map(str, LOG_RETENTION_DAYS))
                + ")",
            )
        return value

    @field_validator("msk_cluster_arn")
    @classmethod
    def _check_cluster_arn(cls, value: str | None) -> str | None:
        if value is not None:
            MskCluster.from_arn(value)
        return value

    @field_validator("alarm_email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        if value is not None and "@" not in value:
            raise SettingRuleError("alarm_email", f"alarmEmail is {value!r}, not an address")
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> InfraSettings:
        """The rules across the deployment's settings, all of them."""
        if self.memory not in FARGATE_MEMORY_MIB_BY_CPU[self.cpu]:
            raise SettingRuleError(
                "memory",
                f"memory is {self.memory} MiB, which Fargate does not allow with cpu {self.cpu} "
                f"({describe_memory_choices(self.cpu)})",
            )
        if self.subnet_ids and not self.vpc_id:
            raise SettingRuleError("vpc_id", "vpcId is required when subnetIds is set")
        if self.partitions is not None and self.desired_count > self.partitions:
            raise SettingRuleError(
                "desired_count",
                f"desiredCount is {self.desired_count}, more than the topic's "
                f"{self.partitions} partitions: a task beyond one per partition owns nothing",
            )
        if not self.autoscaling:
            return self
        if self.partitions is None:
            raise SettingRuleError(
                "partitions",
                "partitions is required with autoscaling: the maximum task count is capped by it",
            )
        if self.max_tasks is not None and self.max_tasks > self.partitions:
            raise SettingRuleError(
                "max_tasks",
                f"maxTasks is {self.max_tasks}, more than the topic's {self.partitions} partitions",
            )
        if self.min_tasks > self.scaling_max_tasks:
            raise SettingRuleError(
                "min_tasks",
                f"minTasks is {self.min_tasks}, above the maximum of {self.scaling_max_tasks} "
                "tasks",
            )
        return self

    @property
    def scaling_max_tasks(self) -> int:
        """The autoscaling maximum: maxTasks, never more than the partitions."""
        assert self.partitions is not None, "checked: autoscaling needs partitions"
        return min(self.max_tasks or self.partitions, self.partitions)


BRIDGE_KEYS: Final = stack_declarations(BridgeSettings)
INFRA_KEYS: Final = stack_declarations(InfraSettings)
# Derived, for the tests and docs: every stack key and its default (None: each stack sets it).
CONFIG_DEFAULTS: Final[Mapping[str, Any]] = {
    str(d.stack_key): d.stack_default for d in [*BRIDGE_KEYS, *INFRA_KEYS]
}
SECRET_KEYS: Final = frozenset(str(d.stack_key) for d in BRIDGE_KEYS if d.secret)


@dataclass(frozen=True)
class StackSettings:
    """The validated stack: the deployment's settings, and the bridge's as the container will
    read them."""

    infra: InfraSettings
    # The bridge's settings, loaded from the container's variables by the bridge's own loader
    # (a dead-letter bucket the stack creates, and secrets, stood in for).
    bridge: BridgeSettings
    # Variable → text: what the stack sets that differs from the bridge's defaults; neither
    # secrets nor the dead-letter location (the component adds it once the bucket exists).
    environment: Mapping[str, str]
    # The secret settings the stack sets: field → value, for SSM and `secrets`.
    secrets: Mapping[str, pulumi.Output[str]]
    dead_letter_target: DeadLetterTarget | None  # None: the component creates a bucket
    msk_cluster: MskCluster | None  # MSK IAM: the cluster the task role may use

    @property
    def kafka_ports(self) -> tuple[int, ...]:
        """The TCP ports of the bootstrap servers: the task's security group allows them out."""
        addresses = broker_addresses(self.bridge.kafka_bootstrap_servers)
        return tuple(sorted({port for _, port in addresses}))

    @property
    def schema_registry_port(self) -> int | None:
        """The port of schemaRegistryUrl: the task's security group allows it out."""
        url = self.bridge.schema_registry_url
        return None if url is None else registry_port(url)

    @property
    def glue_registry(self) -> GlueRegistryArn | None:
        """The Glue registry (glueSchemaRegistryArn) the task role may read."""
        arn = self.bridge.glue_schema_registry_arn
        return None if arn is None else GlueRegistryArn.parse(arn)

    @property
    def named_large_records(self) -> LargeRecordsLocation | None:
        """The claim-check location largeRecords names; None: no claim checks, or the stack
        creates their bucket (largeRecordsBucket)."""
        if self.infra.large_records_bucket or self.bridge.large_records is None:
            return None
        return parse_large_records(self.bridge.large_records)

    @property
    def stop_timeout_seconds(self) -> int:
        """How long ECS waits after SIGTERM: the bridge's drain time plus a margin."""
        drain_s = int(self.bridge.shutdown_timeout_seconds)
        return min(drain_s + STOP_TIMEOUT_MARGIN_S, MAX_STOP_TIMEOUT_S)

    @classmethod
    def from_config(cls, config: pulumi.Config | None = None) -> StackSettings:
        stack = StackConfig(config or pulumi.Config(PROJECT))
        infra = _validated_infra({d.field: stack.value(d) for d in INFRA_KEYS})
        plain = [d for d in BRIDGE_KEYS if not d.secret]
        given = {d.field: stack.value(d) for d in plain}  # None: not set
        secrets = {d.field: stack.secret(d) for d in BRIDGE_KEYS if d.secret}
        set_secrets = {field: value for field, value in secrets.items() if value is not None}

        variables = {d.env: to_text(given[d.field]) for d in plain if given[d.field] is not None}
        stand_ins = {d.env: SECRET_PLACEHOLDER for d in BRIDGE_KEYS if d.field in set_secrets}
        stack_bucket = S3Location(STACK_BUCKET_PLACEHOLDER, infra.dlq_prefix).uri
        if DLQ_VARIABLE not in variables:
            stand_ins[DLQ_VARIABLE] = stack_bucket
        elif DLQ_OVERFLOW_VARIABLE not in variables and _names_a_message_service(given["dlq"]):
            stand_ins[DLQ_OVERFLOW_VARIABLE] = stack_bucket
        if infra.large_records_bucket:
            if LARGE_RECORDS_VARIABLE in variables:
                problem = SettingProblem(
                    "large_records_bucket",
                    "rule",
                    "largeRecordsBucket creates the claim-check bucket: leave largeRecords "
                    "empty, or set largeRecordsBucket false to use the bucket it names",
                )
                raise configuration_error([problem], INFRA_KEYS, {}, worded_in_variables=False)
            stand_ins[LARGE_RECORDS_VARIABLE] = LargeRecordsLocation(
                STACK_LARGE_RECORDS_PLACEHOLDER, infra.large_records_prefix
            ).uri
        try:
            bridge = load_settings({**variables, **stand_ins})
        except BridgeConfigurationError as invalid:
            raise configuration_error(
                invalid.problems, BRIDGE_KEYS, given, worded_in_variables=True
            ) from None
        target = _deployable(bridge, given, infra)
        msk_cluster = _msk_cluster(infra, bridge)
        # What the container gets: what the stack set, less the bridge's own defaults.
        chosen = {
            d.env: variables[d.env]
            for d in plain
            if d.env in variables and getattr(bridge, d.field) != d.default
        }
        chosen.pop(DLQ_VARIABLE, None)  # the component adds the location it deploys
        chosen.pop(DLQ_OVERFLOW_VARIABLE, None)  # and its overflow
        return cls(infra, bridge, chosen, set_secrets, target, msk_cluster)


def _validated_infra(values: dict[str, Any]) -> InfraSettings:
    given = {field: value for field, value in values.items() if value is not None}
    try:
        return InfraSettings.model_validate(given)
    except ValidationError as invalid:
        raise configuration_error(
            problems(invalid), INFRA_KEYS, given, worded_in_variables=False
        ) from None


def _names_a_message_service(dlq: str) -> bool:
    try:
        return parse_dlq(dlq).scheme in ("sqs", "sns")
    except ValueError:
        return False  # the bridge's own check words it


def _deployable(
    bridge: BridgeSettings, given: Mapping[str, Any], infra: InfraSettings
) -> DeadLetterTarget | None:
    """What the infrastructure itself needs of the bridge's settings beyond the bridge's own
    rules: a function IAM can name, a registry port the security group can open, and a
    dead-letter target ECS can write to."""
    try:
        check_function_name(bridge.lambda_function_name)
    except ValueError as bad:
        problem = SettingProblem("lambda_function_name", "invalid", str(bad))
        raise configuration_error([problem], BRIDGE_KEYS, given, worded_in_variables=True) from None
    if bridge.schema_registry_url is not None:
        try:
            registry_port(bridge.schema_registry_url)
        except ValueError as bad:
            problem = SettingProblem("schema_registry_url", "invalid", str(bad))
            raise configuration_error(
                [problem], BRIDGE_KEYS, given, worded_in_variables=True
            ) from None
    location = None if given.get("dlq") is None else parse_dlq(given["dlq"])
    if infra.dlq_kms_key_arn is not None and (location is None or location.aws is None):
        problem = SettingProblem(
            "dlq_kms_key_arn", "rule", "dlqKmsKeyArn is used only with an SQS or SNS dlq"
        )
        raise configuration_error([problem], INFRA_KEYS, {}, worded_in_variables=False)
    if location is None:
        return None
    if location.scheme == "s3":
        return S3Location(location.target, location.prefix)
    if location.scheme == "kafka":
        return KafkaTopic(location.target)
    if location.aws is not None:
        return _message_destination(location.aws, given)
    problem = SettingProblem(
        "dlq", "invalid", "a file:// directory is for local runs; use s3:// or kafka://"
    )
    raise configuration_error([problem], BRIDGE_KEYS, given, worded_in_variables=True)


def _message_destination(aws: AwsDestination, given: Mapping[str, Any]) -> MessageDestination:
    if aws.custom_endpoint:  # IAM needs the queue's ARN, which such a URL does not tell
        problem = SettingProblem(
            "dlq",
            "invalid",
            "a queue URL of a custom endpoint is for local runs; give the queue's ARN or its "
            "https://sqs.<region>.amazonaws.com/<account>/<queue> URL",
        )
        raise configuration_error([problem], BRIDGE_KEYS, given, worded_in_variables=True)
    overflow = None
    if given.get("dlq_overflow") is not None:
        parsed = parse_overflow(given["dlq_overflow"])
        overflow = S3Location(parsed.target, parsed.prefix)
    return MessageDestination(aws.service, aws.arn, given["dlq"], overflow)


def _msk_cluster(infra: InfraSettings, bridge: BridgeSettings) -> MskCluster | None:
    """MSK IAM needs the cluster's ARN for the task role's statements, and only it does."""
    iam = bridge.kafka_sasl_mechanism is SaslMechanism.AWS_MSK_IAM
    if iam and infra.msk_cluster_arn is None:
        problem = SettingProblem(
            "msk_cluster_arn", "rule", "mskClusterArn is required with saslMechanism AWS_MSK_IAM"
        )
        raise configuration_error([problem], INFRA_KEYS, {}, worded_in_variables=False)
    if not iam and infra.msk_cluster_arn is not None:
        problem = SettingProblem(
            "msk_cluster_arn", "rule", "mskClusterArn is used only with saslMechanism AWS_MSK_IAM"
        )
        raise configuration_error([problem], INFRA_KEYS, {}, worded_in_variables=False)
    return None if infra.msk_cluster_arn is None else MskCluster.from_arn(infra.msk_cluster_arn)
