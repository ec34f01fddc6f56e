"""Stack settings: required keys, defaults, and every bad value stopped before any resource,
with a message naming the key and the `pulumi config set` command that fixes it."""

from __future__ import annotations

import re

import pytest
from pulumi.config import ConfigMissingError, ConfigTypeError

from consumer.errors import ConfigurationError as BridgeConfigurationError
from consumer.settings.declarations import Declaration, to_text
from consumer.settings.model import load_settings
from infra.settings import BRIDGE_KEYS, CONFIG_DEFAULTS, ConfigurationError
from tests.support.pulumi_program import (
    MINIMAL_CONFIG,
    PROJECT,
    TEST_PASSWORD,
    deploy,
    run_program,
)

REQUIRED = sorted(key for key, default in CONFIG_DEFAULTS.items() if default is None)

# The deployment's own keys (infra/settings.py): (what is set, fragments the message must hold)
BAD_VALUES = [
    ({"desiredCount": -1}, ["desiredCount is -1: Input should be greater than or equal to 0"]),
    ({"cpuArchitecture": "arm64"}, ["cpuArchitecture is 'arm64'", "'X86_64' or 'ARM64'"]),
    ({"cpu": 300}, ["cpu is 300, which Fargate does not offer"]),
    (
        {"cpu": 512, "memory": 512},
        ["memory is 512 MiB, which Fargate does not allow with cpu 512", "1024 to 4096"],
    ),
    ({"cpu": 256, "memory": 1536}, ["allowed: 512, 1024, 2048 MiB"]),
    ({"logRetentionDays": 10}, ["logRetentionDays is 10, which CloudWatch Logs does not offer"]),
    ({"dlqRetentionDays": 0}, ["dlqRetentionDays is 0"]),
    ({"imageRetentionCount": 0}, ["imageRetentionCount is 0"]),
    ({"dlqPrefix": "/dead"}, ["dlqPrefix must not start with '/'"]),
    ({"subnetIds": ["subnet-1"]}, ["vpcId is required when subnetIds is set"]),
    ({"vpcId": "vpc-1", "subnetIds": '"subnet-1"'}, ["subnetIds is 'subnet-1'", "valid list"]),
    ({"alarmEmail": "oncall"}, ["alarmEmail is 'oncall', not an address"]),
    ({"partitions": 4, "desiredCount": 5}, ["desiredCount is 5, more than the topic's 4"]),
    ({"autoscaling": True}, ["partitions is required with autoscaling"]),
    # The bridge's keys where only the deployment adds a rule: IAM must name the function,
    # and a task on ECS cannot write dead letters to a local directory.
    (
        {"lambdaFunctionName": "arn:aws:s3:::bucket"},
        ["lambdaFunctionName is 'arn:aws:s3:::bucket'"],
    ),
    ({"dlq": "file://dead-letters"}, ["dlq is 'file://dead-letters'", "use s3:// or kafka://"]),
    # ... and a registry port the security group can open (the bridge's own rule says so).
    (
        {"schemaRegistryUrl": "https://registry.example.com:99999"},
        ["schemaRegistryUrl names a port no connection can use (1 to 65535)"],
    ),
    (
        {"schemaRegistryUrl": "https://registry.example.com:0"},
        ["schemaRegistryUrl names a port no connection can use (1 to 65535)"],
    ),
]
# The bridge's keys: each refused with the bridge's own message, in stack keys.
BRIDGE_BAD_VALUES = [
    ({"topic": " "}, ["topic is ' ': name at least one topic"]),
    ({"groupId": " "}, ["groupId is ' ': must not be empty"]),
    ({"securityProtocol": "SASL_TLS"}, ["securityProtocol is 'SASL_TLS': Input should be"]),
    ({"saslMechanism": "GSSAPI"}, ["saslMechanism is 'GSSAPI'"]),
    ({"payloadFormat": "json"}, ["payloadFormat is 'json'", "'native', 'legacy' or 'value'"]),
    ({"ordering": "random"}, ["ordering is 'random'", "'key', 'partition' or 'none'"]),
    ({"onFailure": "drop"}, ["onFailure is 'drop'", "'dlq' or 'stall'"]),
    ({"logLevel": "TRACE"}, ["logLevel is 'TRACE': use DEBUG, INFO, WARNING or ERROR"]),
    (
        {"shutdownTimeoutSeconds": 200},
        ["shutdownTimeoutSeconds is 200", "less than or equal to 110"],
    ),
    ({"batchSize": 0}, ["batchSize is 0", "greater than or equal to 1"]),
    ({"maxInFlightPerPartition": 1001}, ["maxInFlightPerPartition is 1001", "less than or equal"]),
    ({"maxRetries": -1}, ["maxRetries is -1"]),
    ({"lambdaReadTimeoutSeconds": 2000}, ["lambdaReadTimeoutSeconds is 2000"]),
    ({"dlq": "http://bucket/x"}, ["dlq='http://bucket/x' is not s3://bucket/prefix"]),
    ({"dlq": "s3:///prefix"}, ["dlq='s3:///prefix' is not s3://bucket/prefix"]),
    ({"dlq": "kafka://a/b"}, ["dlq='kafka://a/b' is not"]),
    ({"username": ""}, ["securityProtocol=SASL_SSL needs username and kafkaPassword"]),
    (
        {"kafkaProperties": "fetch_min_bytes=1"},
        ["kafkaProperties is 'fetch_min_bytes=1': not JSON"],
    ),
    ({"kafkaProperties": "[1]"}, ["must be a JSON object"]),
    ({"kafkaProperties": '{"fetch_min_byte": 1}'}, ["did you mean 'fetch_min_bytes'?"]),
    ({"kafkaProperties": '{"enable_auto_commit": true}'}, ["set nothing: the bridge commits"]),
    ({"bootstrapServers": "broker.example.com"}, ["'broker.example.com' is not host:port"]),
    ({"startingPosition": "yesterday"}, ["startingPosition is 'yesterday'"]),
    ({"startingPosition": "2024-01-31T00:00:00"}, ["needs a time zone"]),
    (
        {"maxRecordAgeSeconds": 60, "onFailure": "stall"},
        ["maxRecordAgeSeconds needs dlq (and onFailure=dlq)"],
    ),
    ({"clockSkewMarginMs": 61000}, ["clockSkewMarginMs"]),
    ({"retryBackoffMaxMs": 5}, ["retryBackoffMaxMs must be at least retryBackoffBaseMs"]),
    (
        {"saslMechanism": "OAUTHBEARER", "username": ""},
        ["oauthTokenUrl is required with saslMechanism=OAUTHBEARER"],
    ),
    (
        {"saslMechanism": "AWS_MSK_IAM", "securityProtocol": "SASL_PLAINTEXT", "username": ""},
        ["securityProtocol=SASL_PLAINTEXT: saslMechanism=AWS_MSK_IAM needs SASL_SSL"],
    ),
    ({"topic": "", "topicPattern": "("}, ["topicPattern is '(': not a regular expression"]),
    ({"topicPattern": "orders-.*"}, ["topicPattern and topic exclude each other"]),
    ({"startingPosition": "AT_TIMESTAMP"}, ["startingPositionTimestamp goes with"]),
    ({"oauthExtensions": "[]"}, ["oauthExtensions is '[]': must be a JSON object"]),
    ({"filterPatterns": "{value: 1}"}, ["filterPatterns is '{value: 1}': not JSON"]),
    (
        {"filterPatterns": '[{"value": {"path": [{"wildcard": "*.png"}]}}]'},
        ["pattern 1 of 1", "value.path: 'wildcard' is an EventBridge operator"],
    ),
    (
        {"filterPatterns": '[{"value": {"n": [{"numeric": [">", "5"]}]}}]'},
        ['numeric compares with numbers, not "5"'],
    ),
    (
        {"lambdaInvocationType": "Event", "batchMaxBytes": 2 * 1024 * 1024},
        ["batchMaxBytes=2097152 is over Lambda's 1048576-byte limit for Event invocations"],
    ),
    (
        {"glueSchemaRegistryArn": "orders"},
        ["glueSchemaRegistryArn='orders' is not a Glue registry ARN"],
    ),
    (
        {"schemaRegistryUrl": "https://psrc-0abc.confluent.cloud", "schemaRegistryKey": "K"},
        ["schemaRegistryKey and schemaRegistrySecret go together (basic auth)"],
    ),
    ({"schemaRegistryUrl": "psrc-0abc.confluent.cloud"}, ["is not an http:// or https:// URL"]),
    ({"schemaRecordFormat": "JSON"}, ["schemaRecordFormat needs a registry"]),
    (
        {"responseTopic": "kafka://answers", "lambdaInvocationType": "Event"},
        ["responseTopic needs lambdaInvocationType=RequestResponse"],
    ),
    ({"errorTopic": "errors"}, ["errorTopic='errors' is not kafka://topic"]),
]
KEY_FIRST = re.compile(rf"^{PROJECT}:(?P<key>\w+)[ :=]")


def _refusal(overrides: dict[str, object]) -> str:
    """The program's message for a stack with these values; it must declare nothing."""
    deployment = run_program({**MINIMAL_CONFIG, **overrides})
    assert isinstance(deployment.error, ConfigurationError), deployment.error
    assert deployment.resources == []
    return str(deployment.error)


def _names_its_key_and_the_command(message: str) -> str:
    named = KEY_FIRST.match(message)
    assert named is not None, message
    key = named["key"]
    assert key in CONFIG_DEFAULTS, message  # the message starts with the key to fix
    commands = (
        f"pulumi config set {key} ",
        f"pulumi config set --path '{key}[0]' ",
        f"pulumi config set --secret {key}",
    )
    assert any(f"; fix it with: {command}" in message for command in commands), message
    return key


@pytest.mark.parametrize(
    ("overrides", "fragments"), BAD_VALUES, ids=[",".join(case[0]) for case in BAD_VALUES]
)
def test_a_bad_value_stops_the_program_before_any_resource_naming_key_and_fix(
    overrides: dict[str, object], fragments: list[str]
) -> None:
    message = _refusal(overrides)
    for fragment in fragments:
        assert fragment in message, message
    _names_its_key_and_the_command(message)


def _container_variables(overrides: dict[str, object]) -> dict[str, str]:
    """The minimal stack's container environment with these stack values applied to it the
    way the bridge's declarations say (an unset value removes its variable)."""
    environment = {**deploy(MINIMAL_CONFIG).environment(), "KAFKA_PASSWORD": "from-ssm"}
    by_key = {d.stack_key: d for d in BRIDGE_KEYS}
    for key, value in overrides.items():
        declaration = by_key[key]
        if declaration.is_unset(value):
            environment.pop(declaration.env, None)
        else:
            environment[declaration.env] = to_text(value)
    return environment


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    BRIDGE_BAD_VALUES,
    ids=[",".join(case[0]) for case in BRIDGE_BAD_VALUES],
)
def test_a_bad_bridge_value_is_refused_by_both_sides_with_the_bridges_own_message(
    overrides: dict[str, object], fragments: list[str]
) -> None:
    message = _refusal(overrides)
    for fragment in fragments:
        assert fragment in message, message
    key = _names_its_key_and_the_command(message)
    # The container, given the same values as variables, refuses them for the same reason.
    with pytest.raises(BridgeConfigurationError) as refused:
        load_settings(_container_variables(overrides))
    (problem,) = refused.value.problems
    assert _stack_key(problem.field) == key
    to_keys = {d.env: str(d.stack_key) for d in BRIDGE_KEYS}
    worded = re.sub(r"\b[A-Z][A-Z0-9_]+\b", lambda m: to_keys.get(m[0], m[0]), problem.message)
    assert worded in message, (worded, message)


def _stack_key(field: str) -> str:
    return next(str(d.stack_key) for d in BRIDGE_KEYS if d.field == field)


@pytest.mark.parametrize("key", REQUIRED)
def test_a_missing_required_key_fails_with_pulumis_error_and_the_command_to_set_it(
    key: str,
) -> None:
    deployment = run_program({k: v for k, v in MINIMAL_CONFIG.items() if k != key})
    assert isinstance(deployment.error, ConfigMissingError), deployment.error
    assert f"'{PROJECT}:{key}'" in str(deployment.error)
    assert f"pulumi config set {PROJECT}:{key}" in str(deployment.error)
    assert deployment.resources == []


@pytest.mark.parametrize(
    ("overrides", "password", "missing"),
    [
        ({}, None, "kafkaPassword"),  # SASL_SSL with PLAIN, the stack default
        ({"topic": ""}, TEST_PASSWORD, "topic"),  # neither topic nor topicPattern
        (
            {
                "saslMechanism": "OAUTHBEARER",
                "username": "",
                "oauthTokenUrl": "https://idp.example.com/token",
                "oauthClientId": "bridge",
            },
            None,
            "oauthClientSecret",
        ),
        ({"saslMechanism": "AWS_MSK_IAM", "username": ""}, None, "mskClusterArn"),
    ],
)
def test_a_key_required_by_another_is_named_with_the_command_to_set_it(
    overrides: dict[str, object], password: str | None, missing: str
) -> None:
    deployment = run_program({**MINIMAL_CONFIG, **overrides}, password=password)
    assert isinstance(deployment.error, ConfigurationError), deployment.error
    assert _names_its_key_and_the_command(str(deployment.error)) == missing
    assert deployment.resources == []


def test_a_value_of_the_wrong_type_fails_with_pulumis_type_error() -> None:
    deployment = run_program({**MINIMAL_CONFIG, "desiredCount": "twenty"})
    assert isinstance(deployment.error, ConfigTypeError)
    assert f"{PROJECT}:desiredCount" in str(deployment.error)
    assert deployment.resources == []


@pytest.mark.parametrize(
    ("key", "value", "bridge_says"),
    [
        ("batchSize", "ten", "Input should be a valid integer"),
        ("bisectOnError", "maybe", "Input should be a valid boolean"),
        ("shutdownTimeoutSeconds", "soon", "Input should be a valid number"),
    ],
)
def test_a_bridge_value_of_the_wrong_type_is_refused_by_both_sides(
    key: str, value: str, bridge_says: str
) -> None:
    deployment = run_program({**MINIMAL_CONFIG, key: value})
    assert isinstance(deployment.error, ConfigTypeError)
    assert f"{PROJECT}:{key}" in str(deployment.error)
    assert deployment.resources == []
    (declaration,) = [d for d in BRIDGE_KEYS if d.stack_key == key]
    with pytest.raises(BridgeConfigurationError) as refused:
        load_settings(_container_variables({key: value}))
    assert f"{declaration.env}: {bridge_says}" in str(refused.value)


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


SECRET_DECLARATIONS = [d for d in BRIDGE_KEYS if d.secret]


@pytest.mark.parametrize("declaration", SECRET_DECLARATIONS, ids=lambda d: str(d.stack_key))
def test_a_secret_stored_in_plain_text_is_refused_naming_the_key_and_the_command(
    declaration: Declaration,
) -> None:
    """`kafkaPassword: hunter2` in a stack file (set without --secret) never deploys."""
    key = str(declaration.stack_key)
    deployment = run_program({**MINIMAL_CONFIG, key: "hunter2-plain"}, password=None)
    assert isinstance(deployment.error, ConfigurationError), deployment.error
    message = str(deployment.error)
    assert f"{PROJECT}:{key} is stored in plain text" in message
    assert f"pulumi config rm {key} && pulumi config set --secret {key}" in message
    assert "hunter2-plain" not in message
    assert deployment.resources == [], "refused before any resource"
