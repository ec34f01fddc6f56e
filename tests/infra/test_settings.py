"""Stack settings: required keys, defaults, and every bad value stopped before any resource,
with a message naming the key and the `pulumi config set` command that fixes it."""

from __future__ import annotations

import pytest
from pulumi.config import ConfigMissingError, ConfigTypeError

from infra.settings import CONFIG_DEFAULTS, ConfigurationError
from tests.support.pulumi_program import MINIMAL_CONFIG, PROJECT, deploy, run_program

REQUIRED = sorted(key for key, default in CONFIG_DEFAULTS.items() if default is None)

BAD_VALUES = [
    # (what is set, fragments the message must hold)
    ({"desiredCount": -1}, ["desiredCount is -1; it must be at least 0"]),
    ({"topic": " "}, ["topic is empty"]),
    ({"securityProtocol": "SASL_TLS"}, ["securityProtocol is 'SASL_TLS', not one of"]),
    ({"saslMechanism": "GSSAPI"}, ["saslMechanism is 'GSSAPI', not one of"]),
    ({"payloadFormat": "json"}, ["payloadFormat is 'json', not one of native, legacy, value"]),
    ({"ordering": "random"}, ["ordering is 'random', not one of key, partition, none"]),
    ({"onFailure": "drop"}, ["onFailure is 'drop', not one of dlq, stall"]),
    ({"logLevel": "TRACE"}, ["logLevel is 'TRACE'"]),
    ({"cpuArchitecture": "arm64"}, ["cpuArchitecture is 'arm64', not one of X86_64, ARM64"]),
    ({"cpu": 300}, ["cpu is 300, which Fargate does not offer"]),
    (
        {"cpu": 512, "memory": 512},
        ["memory is 512 MiB, which Fargate does not allow with cpu 512", "1024 to 4096"],
    ),
    ({"cpu": 256, "memory": 1536}, ["allowed: 512, 1024, 2048 MiB"]),
    ({"logRetentionDays": 10}, ["logRetentionDays is 10, which CloudWatch Logs does not offer"]),
    ({"shutdownTimeoutSeconds": 200}, ["shutdownTimeoutSeconds is 200", "at most 110"]),
    ({"batchSize": 0}, ["batchSize is 0; it must be at least 1"]),
    ({"maxInFlightPerPartition": 1001}, ["maxInFlightPerPartition is 1001", "at most 1000"]),
    ({"maxRetries": -1}, ["maxRetries is -1"]),
    ({"dlqRetentionDays": 0}, ["dlqRetentionDays is 0"]),
    ({"imageRetentionCount": 0}, ["imageRetentionCount is 0"]),
    ({"dlq": "http://bucket/x"}, ["dlq is 'http://bucket/x'", "s3://<bucket>/<prefix>"]),
    ({"dlq": "s3:///prefix"}, ["dlq is 's3:///prefix': name the bucket"]),
    ({"dlq": "kafka://a/b"}, ["dlq is 'kafka://a/b': name one topic"]),
    ({"dlqPrefix": "/dead"}, ["dlqPrefix must not start with '/'"]),
    ({"subnetIds": ["subnet-1"]}, ["vpcId is required when subnetIds is set"]),
    ({"vpcId": "vpc-1", "subnetIds": '"subnet-1"'}, ["subnetIds must be a list of strings"]),
    ({"username": ""}, ["username is required with securityProtocol SASL_SSL"]),
    ({"kafkaProperties": "fetch_min_bytes=1"}, ["kafkaProperties is not JSON"]),
    ({"kafkaProperties": "[1]"}, ["kafkaProperties must be a JSON object"]),
    ({"bootstrapServers": "broker.example.com"}, ["'broker.example.com', which is not host:port"]),
    ({"startingPosition": "yesterday"}, ["startingPosition is 'yesterday'"]),
    ({"startingPosition": "2024-01-31T00:00:00"}, ["with a time zone"]),
    (
        {"lambdaFunctionName": "arn:aws:s3:::bucket"},
        ["lambdaFunctionName is 'arn:aws:s3:::bucket'"],
    ),
    (
        {"maxRecordAgeSeconds": 60, "onFailure": "stall"},
        ["maxRecordAgeSeconds needs onFailure dlq"],
    ),
]


@pytest.mark.parametrize(
    ("overrides", "fragments"), BAD_VALUES, ids=[",".join(case[0]) for case in BAD_VALUES]
)
def test_a_bad_value_stops_the_program_before_any_resource_naming_key_and_fix(
    overrides: dict[str, object], fragments: list[str]
) -> None:
    deployment = run_program({**MINIMAL_CONFIG, **overrides})
    assert isinstance(deployment.error, ConfigurationError), deployment.error
    message = str(deployment.error)
    for fragment in fragments:
        assert fragment in message, message
    named = message.removeprefix(f"{PROJECT}:").split(" ", 1)[0]
    assert named in CONFIG_DEFAULTS, message  # the message starts with the key to fix
    assert f"; fix it with: pulumi config set {named} " in message, message
    assert deployment.resources == []


@pytest.mark.parametrize("key", REQUIRED)
def test_a_missing_required_key_fails_with_pulumis_error_and_the_command_to_set_it(
    key: str,
) -> None:
    if key == "kafkaPassword":
        deployment = run_program(MINIMAL_CONFIG, password=None)
    else:
        deployment = run_program({k: v for k, v in MINIMAL_CONFIG.items() if k != key})
    assert isinstance(deployment.error, ConfigMissingError), deployment.error
    assert f"'{PROJECT}:{key}'" in str(deployment.error)
    secret = "--secret " if key == "kafkaPassword" else ""
    assert f"pulumi config set {secret}{PROJECT}:{key}" in str(deployment.error)
    assert deployment.resources == []


def test_a_value_of_the_wrong_type_fails_with_pulumis_type_error() -> None:
    deployment = run_program({**MINIMAL_CONFIG, "desiredCount": "twenty"})
    assert isinstance(deployment.error, ConfigTypeError)
    assert f"{PROJECT}:desiredCount" in str(deployment.error)
    assert deployment.resources == []


def test_the_minimal_config_deploys_with_the_documented_defaults() -> None:
    deployment = deploy(MINIMAL_CONFIG)
    service = deployment.one("aws:ecs/service:Service").inputs
    task = deployment.one("aws:ecs/taskDefinition:TaskDefinition").inputs
    assert service["desiredCount"] == CONFIG_DEFAULTS["desiredCount"]
    assert task["cpu"] == str(CONFIG_DEFAULTS["cpu"])
    assert task["memory"] == str(CONFIG_DEFAULTS["memory"])
    assert task["runtimePlatform"]["cpuArchitecture"] == CONFIG_DEFAULTS["cpuArchitecture"]
    assert deployment.environment()["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    logs = deployment.one("aws:cloudwatch/logGroup:LogGroup").inputs
    assert logs["retentionInDays"] == CONFIG_DEFAULTS["logRetentionDays"]


def test_a_dead_letter_prefix_without_a_slash_is_used_as_the_bridge_uses_it() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "dlqPrefix": "failed"})
    assert deployment.environment()["DLQ"].endswith("/failed/")
    (statement,) = [
        s for s in deployment.role_policy("-task")["Statement"] if s["Action"] == "s3:PutObject"
    ]
    assert statement["Resource"].endswith("/failed/*")
