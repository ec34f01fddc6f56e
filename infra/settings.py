"""Every stack setting of the Pulumi program: one typed object read from `pulumi.Config`.

Keys are camelCase in the project namespace (`kafka-to-lambda:topic`). `CONFIG_DEFAULTS` is
the one list of them; Pulumi.yaml declares the same keys with the same defaults (a test
holds the two together). Every value is checked here, before any resource is declared, and
a bad one stops the program with the key and the `pulumi config set` command that fixes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import pulumi

from infra.dead_letters import DeadLetterTarget, normalize_prefix, parse_dead_letter_target
from infra.fargate import FARGATE_MEMORY_MIB_BY_CPU, MAX_STOP_TIMEOUT_S, describe_memory_choices
from infra.iam import check_function_name

PROJECT: Final = "kafka-to-lambda"

ConfigDefault = str | int | bool | list[str] | None

# Every key the program reads and its default; None means required (Pulumi's own
# missing-config error names it). An empty string or list means "not set".
CONFIG_DEFAULTS: Final[Mapping[str, ConfigDefault]] = {
    # Kafka
    "bootstrapServers": None,
    "topic": None,
    "groupId": None,
    "username": "",
    "kafkaPassword": None,
    "securityProtocol": "SASL_SSL",
    "saslMechanism": "PLAIN",
    "startingPosition": "earliest",
    "kafkaProperties": "{}",
    # Lambda and delivery
    "lambdaFunctionName": None,
    "lambdaQualifier": "",
    "payloadFormat": "native",
    "ordering": "key",
    "maxInFlightPerPartition": 2,
    "maxInFlightTotal": 100,
    "batchSize": 100,
    "maxRetries": 3,
    "onFailure": "dlq",
    "bisectOnError": True,
    "maxRecordAgeSeconds": 0,
    "shutdownTimeoutSeconds": 30,
    "logLevel": "INFO",
    # Dead letters
    "dlq": "",
    "dlqPrefix": "dead-letters/",
    "dlqForceDestroy": False,
    "dlqRetentionDays": 365,
    # ECS, network, image, logs, secrets
    "desiredCount": 1,
    "cpu": 512,
    "memory": 1024,
    "cpuArchitecture": "X86_64",
    "vpcId": "",
    "subnetIds": [],
    "assignPublicIp": True,
    "image": "",
    "imageRetentionCount": 10,
    "logRetentionDays": 14,
    "kmsKeyId": "",
    # Alarms, dashboard, autoscaling
    "alarms": True,
    "alarmEmail": "",
    "lagAlarmThreshold": 10_000,
    "lagAlarmMinutes": 10,
    "functionErrorRatePercent": 5,
    "stallAlarmMinutes": 15,
    "autoscaling": False,
    "partitions": 0,
    "minTasks": 1,
    "maxTasks": 0,
    "targetLagPerTask": 1000,
}
SECRET_KEYS: Final = frozenset({"kafkaPassword"})
# Inclusive bounds of the integer keys (None: no upper bound). Where the bridge has bounds
# too, these are the same (tests/infra/test_environment.py renders both ends).
INTEGER_BOUNDS: Final[Mapping[str, tuple[int, int | None]]] = {
    "maxInFlightPerPartition": (1, 1000),
    "maxInFlightTotal": (1, 10_000),
    "batchSize": (1, 10_000),
    "maxRetries": (0, 1000),
    "maxRecordAgeSeconds": (0, None),  # 0: no limit
    "shutdownTimeoutSeconds": (0, 110),
    "dlqRetentionDays": (1, None),
    "desiredCount": (0, None),
    "cpu": (1, None),
    "memory": (1, None),
    "imageRetentionCount": (1, None),
    "logRetentionDays": (0, None),
    "lagAlarmThreshold": (1, None),
    "lagAlarmMinutes": (1, 1440),
    "functionErrorRatePercent": (1, 100),
    "stallAlarmMinutes": (1, 1440),
    "partitions": (0, None),  # 0: not given
    "minTasks": (0, None),
    "maxTasks": (0, None),  # 0: as many as partitions
    "targetLagPerTask": (1, None),
}

# The values of the keys that take one of a few. Where the bridge has the same setting, the
# same values (tests/infra/test_environment.py compares them with its enums).
CHOICES: Final[Mapping[str, tuple[str, ...]]] = {
    "securityProtocol": ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
    "saslMechanism": ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
    "payloadFormat": ("native", "legacy", "value"),
    "ordering": ("key", "partition", "none"),
    "onFailure": ("dlq", "stall"),
    "logLevel": ("DEBUG", "INFO", "WARNING", "ERROR"),
    "cpuArchitecture": ("X86_64", "ARM64"),
}
# What CloudWatch Logs accepts as a retention (0: never expire).
LOG_RETENTION_DAYS: Final = (
    0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
# The task's stopTimeout is this much above the bridge's drain time (at most 110 s).
STOP_TIMEOUT_MARGIN_S: Final = 10


class ConfigurationError(pulumi.RunError):
    """A stack setting is missing or wrong; the message names the key and the fix."""


def _fix(key: str, problem: str, example: str) -> ConfigurationError:
    return ConfigurationError(
        f"{PROJECT}:{key} {problem}; fix it with: pulumi config set {key} {example}"
    )


@dataclass(frozen=True)
class StackSettings:
    """The validated stack config. Optional text settings are None when not set."""

    bootstrap_servers: str
    topic: str
    group_id: str
    username: str | None
    kafka_password: pulumi.Output[str]
    security_protocol: str
    sasl_mechanism: str
    starting_position: str
    kafka_properties: dict[str, Any]
    lambda_function_name: str
    lambda_qualifier: str | None
    payload_format: str
    ordering: str
    max_in_flight_per_partition: int
    max_in_flight_total: int
    batch_size: int
    max_retries: int
    on_failure: str
    bisect_on_error: bool
    max_record_age_seconds: int | None
    shutdown_timeout_seconds: int
    log_level: str
    dead_letter_target: DeadLetterTarget | None  # None: the component creates a bucket
    dlq_prefix: str
    dlq_force_destroy: bool
    dlq_retention_days: int
    desired_count: int
    cpu: int
    memory: int
    cpu_architecture: str
    vpc_id: str | None
    subnet_ids: tuple[str, ...]
    assign_public_ip: bool
    image: str | None
    image_retention_count: int
    log_retention_days: int
    kms_key_id: str | None
    alarms: bool
    alarm_email: str | None
    lag_alarm_threshold: int
    lag_alarm_minutes: int
    function_error_rate_percent: int
    stall_alarm_minutes: int
    autoscaling: bool
    partitions: int | None
    min_tasks: int
    max_tasks: int | None
    target_lag_per_task: int

    @property
    def scaling_max_tasks(self) -> int:
        """The autoscaling maximum: maxTasks, never more than the partitions."""
        assert self.partitions is not None, "checked: autoscaling needs partitions"
        return min(self.max_tasks or self.partitions, self.partitions)

    @property
    def kafka_ports(self) -> tuple[int, ...]:
        """The TCP ports of the bootstrap servers: the task's security group allows them out."""
        return tuple(sorted({_port_of(server) for server in _servers(self.bootstrap_servers)}))

    @property
    def stop_timeout_seconds(self) -> int:
        """How long ECS waits after SIGTERM: the bridge's drain time plus a margin."""
        return min(self.shutdown_timeout_seconds + STOP_TIMEOUT_MARGIN_S, MAX_STOP_TIMEOUT_S)

    @classmethod
    def from_config(cls, config: pulumi.Config | None = None) -> StackSettings:
        read = _Reader(config or pulumi.Config(PROJECT))
        settings = cls(
            bootstrap_servers=read.text("bootstrapServers"),
            topic=read.text("topic"),
            group_id=read.text("groupId"),
            username=read.optional_text("username"),
            kafka_password=read.secret("kafkaPassword"),
            security_protocol=read.choice("securityProtocol"),
            sasl_mechanism=read.choice("saslMechanism"),
            starting_position=read.text("startingPosition"),
            kafka_properties=read.json_object("kafkaProperties"),
            lambda_function_name=read.text("lambdaFunctionName"),
            lambda_qualifier=read.optional_text("lambdaQualifier"),
            payload_format=read.choice("payloadFormat"),
            ordering=read.choice("ordering"),
            max_in_flight_per_partition=read.integer("maxInFlightPerPartition"),
            max_in_flight_total=read.integer("maxInFlightTotal"),
            batch_size=read.integer("batchSize"),
            max_retries=read.integer("maxRetries"),
            on_failure=read.choice("onFailure"),
            bisect_on_error=read.boolean("bisectOnError"),
            max_record_age_seconds=read.integer("maxRecordAgeSeconds") or None,
            shutdown_timeout_seconds=read.integer("shutdownTimeoutSeconds"),
            log_level=read.choice("logLevel"),
            dead_letter_target=read.dead_letter_target("dlq"),
            dlq_prefix=normalize_prefix(read.text("dlqPrefix")),
            dlq_force_destroy=read.boolean("dlqForceDestroy"),
            dlq_retention_days=read.integer("dlqRetentionDays"),
            desired_count=read.integer("desiredCount"),
            cpu=read.integer("cpu"),
            memory=read.integer("memory"),
            cpu_architecture=read.choice("cpuArchitecture"),
            vpc_id=read.optional_text("vpcId"),
            subnet_ids=read.strings("subnetIds"),
            assign_public_ip=read.boolean("assignPublicIp"),
            image=read.optional_text("image"),
            image_retention_count=read.integer("imageRetentionCount"),
            log_retention_days=read.integer("logRetentionDays"),
            kms_key_id=read.optional_text("kmsKeyId"),
            alarms=read.boolean("alarms"),
            alarm_email=read.optional_text("alarmEmail"),
            lag_alarm_threshold=read.integer("lagAlarmThreshold"),
            lag_alarm_minutes=read.integer("lagAlarmMinutes"),
            function_error_rate_percent=read.integer("functionErrorRatePercent"),
            stall_alarm_minutes=read.integer("stallAlarmMinutes"),
            autoscaling=read.boolean("autoscaling"),
            partitions=read.integer("partitions") or None,
            min_tasks=read.integer("minTasks"),
            max_tasks=read.integer("maxTasks") or None,
            target_lag_per_task=read.integer("targetLagPerTask"),
        )
        settings._check_combinations()
        return settings

    def _check_combinations(self) -> None:
        for server in _servers(self.bootstrap_servers):
            _port_of(server)  # raises on a server without a port
        if self.security_protocol.startswith("SASL_") and not self.username:
            raise _fix(
                "username",
                f"is required with securityProtocol {self.security_protocol}",
                "<SASL user name or API key>",
            )
        _check_starting_position(self.starting_position)
        try:
            check_function_name(self.lambda_function_name)
        except ValueError as bad:
            raise _fix(
                "lambdaFunctionName", f"is {self.lambda_function_name!r}: {bad}", "echo"
            ) from None
        allowed_memory = FARGATE_MEMORY_MIB_BY_CPU.get(self.cpu)
        if allowed_memory is None:
            raise _fix(
                "cpu",
                f"is {self.cpu}, which Fargate does not offer (CPU units: "
                + ", ".join(map(str, FARGATE_MEMORY_MIB_BY_CPU))
                + ")",
                "512",
            )
        if self.memory not in allowed_memory:
            raise _fix(
                "memory",
                f"is {self.memory} MiB, which Fargate does not allow with cpu {self.cpu} "
                f"({describe_memory_choices(self.cpu)})",
                str(allowed_memory[0]),
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise _fix(
                "logRetentionDays",
                f"is {self.log_retention_days}, which CloudWatch Logs does not offer (one of "
                + ", ".join(map(str, LOG_RETENTION_DAYS))
                + ")",
                "14",
            )
        if self.subnet_ids and not self.vpc_id:
            raise _fix("vpcId", "is required when subnetIds is set", "<vpc-… of those subnets>")
        if self.dlq_prefix.startswith("/"):
            raise _fix("dlqPrefix", "must not start with '/'", "dead-letters/")
        self._check_scaling()
        if self.alarm_email is not None and "@" not in self.alarm_email:
            raise _fix(
                "alarmEmail", f"is {self.alarm_email!r}, not an address", "oncall@example.org"
            )
        if self.max_record_age_seconds is not None and self.on_failure != "dlq":
            raise _fix(
                "maxRecordAgeSeconds",
                "needs onFailure dlq: an expired record must go somewhere",
                "0",
            )

    def _check_scaling(self) -> None:
        if self.partitions is not None and self.desired_count > self.partitions:
            raise _fix(
                "desiredCount",
                f"is {self.desired_count}, more than the topic's {self.partitions} partitions: "
                "a task beyond one per partition owns nothing",
                str(self.partitions),
            )
        if not self.autoscaling:
            return
        if self.partitions is None:
            raise _fix(
                "partitions",
                "is required with autoscaling: the maximum task count is capped by it",
                "<the topic's partition count>",
            )
        if self.max_tasks is not None and self.max_tasks > self.partitions:
            raise _fix(
                "maxTasks",
                f"is {self.max_tasks}, more than the topic's {self.partitions} partitions",
                str(self.partitions),
            )
        if self.min_tasks > self.scaling_max_tasks:
            raise _fix(
                "minTasks",
                f"is {self.min_tasks}, above the maximum of {self.scaling_max_tasks} tasks",
                "1",
            )


def _servers(bootstrap_servers: str) -> list[str]:
    return [server.strip() for server in bootstrap_servers.split(",") if server.strip()]


def _port_of(server: str) -> int:
    host, _, port = server.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _fix(
            "bootstrapServers",
            f"has {server!r}, which is not host:port",
            "<host:port>[,<host:port>…]",
        )
    return int(port)


def _check_starting_position(value: str) -> None:
    if value in ("earliest", "latest"):
        return
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _fix(
            "startingPosition",
            f"is {value!r}: use earliest, latest or an ISO-8601 timestamp with a time zone",
            "2024-01-31T00:00:00Z",
        )


_KAFKA_PROPERTIES_EXAMPLE: Final = """'{"fetch_min_bytes": 100000}'"""


class _Reader:
    """Typed reads of one config namespace, falling back to CONFIG_DEFAULTS."""

    def __init__(self, config: pulumi.Config) -> None:
        self._config = config

    def _default(self, key: str) -> ConfigDefault:
        return CONFIG_DEFAULTS[key]

    def text(self, key: str) -> str:
        value = self._config.get(key)
        default = self._default(key)
        if value is None and default is None:
            return self._config.require(key)  # raises Pulumi's missing-config error
        if value is None:
            assert isinstance(default, str), key
            return default
        if default is None and not value.strip():
            raise _fix(key, "is empty", "<value>")
        return value

    def optional_text(self, key: str) -> str | None:
        return self.text(key).strip() or None

    def secret(self, key: str) -> pulumi.Output[str]:
        return self._config.require_secret(key)

    def choice(self, key: str) -> str:
        allowed = CHOICES[key]
        value = self.text(key)
        if value not in allowed:
            raise _fix(key, f"is {value!r}, not one of {', '.join(allowed)}", allowed[0])
        return value

    def integer(self, key: str) -> int:
        minimum, maximum = INTEGER_BOUNDS[key]
        value = self._config.get_int(key)
        if value is None:
            default = self._default(key)
            assert isinstance(default, int), key
            value = default
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"at least {minimum}" + ("" if maximum is None else f" and at most {maximum}")
            raise _fix(key, f"is {value}; it must be {bound}", str(self._default(key)))
        return value

    def boolean(self, key: str) -> bool:
        value = self._config.get_bool(key)
        if value is None:
            default = self._default(key)
            assert isinstance(default, bool), key
            return default
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._config.get_object(key)
        if value is None:
            value = self._default(key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _fix(key, "must be a list of strings", f"--path '{key}[0]' <value>")
        return tuple(value)

    def json_object(self, key: str) -> dict[str, Any]:
        raw = self._config.get(key)
        text = raw if raw is not None else self._default(key)
        assert isinstance(text, str), key
        try:
            value = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as bad:
            raise _fix(key, f"is not JSON ({bad})", _KAFKA_PROPERTIES_EXAMPLE) from None
        if not isinstance(value, dict):
            raise _fix(key, "must be a JSON object", _KAFKA_PROPERTIES_EXAMPLE)
        return value

    def dead_letter_target(self, key: str) -> DeadLetterTarget | None:
        text = self.optional_text(key)
        if text is None:
            return None
        try:
            return parse_dead_letter_target(text)
        except ValueError as bad:
            raise _fix(key, f"is {text!r}: {bad}", "s3://<bucket>/<prefix>/") from None
