"""The container contract, derived from the declarations: for every bridge setting a stack can
set, the stack key, the environment variable and the value the bridge reads agree.

Nothing here lists the bridge's settings: they come from `consumer/settings/` at test time,
and every rendered environment goes through `consumer.settings.load_settings`, as the
container would.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from consumer.errors import ConfigurationError as BridgeConfigurationError
from consumer.settings.declarations import Declaration, to_text
from consumer.settings.model import BridgeSettings, load_settings
from infra.settings import BRIDGE_KEYS, SECRET_KEYS, STACK_BUCKET_PLACEHOLDER
from infra.stack_config import SECRET_PLACEHOLDER
from tests.support.pulumi_program import (
    MINIMAL_CONFIG,
    TEST_PASSWORD,
    Deployment,
    deploy,
    deploy_stack_file,
    plaintext_strings,
    secret_values,
)

STACKS = ["staging", "prod"]
# A valid value, other than the stack default, for each free-text setting; numbers, flags and
# choices get one derived from their declaration.
TEXT_SAMPLES: dict[str, str] = {
    "bootstrapServers": "other-broker.example.com:9094",
    "topic": "other-records",
    "topicPattern": "records-.*",
    "groupId": "other-group",
    "username": "other-user",
    "startingPosition": "2026-01-01T00:00:00Z",
    "startingPositionTimestamp": "1767225600",
    "kafkaProperties": '{"fetch_min_bytes": 7}',
    "filterPatterns": '[{"value": {"type": ["allele"]}}]',
    "oauthTokenUrl": "https://idp.example.com/oauth2/token",
    "oauthClientId": "bridge-client",
    "oauthScope": "kafka",
    "oauthExtensions": '{"logicalCluster": "lkc-1"}',
    "lambdaFunctionName": "other-handler",
    "lambdaQualifier": "live",
    "logLevel": "DEBUG",
    "dlq": "kafka://failed-records",
    "responseTopic": "kafka://answers",
    "errorTopic": "kafka://b-1.other.example.com:9094/function-errors",
    "dlqOverflow": "s3://big-letters/bridge/",
    "schemaRegistryUrl": "https://psrc-0abc.us-east-2.aws.confluent.cloud",
    "schemaRegistryKey": "REGISTRYAPIKEY",
    "glueSchemaRegistryArn": "arn:aws:glue:us-east-1:123456789012:registry/orders",
    "largeRecords": "s3://claim-checks/records/",
    "largeRecordsKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab",
}
_OAUTH = {
    "saslMechanism": "OAUTHBEARER",
    "username": "",
    "oauthTokenUrl": "https://idp.example.com/oauth2/token",
    "oauthClientId": "bridge-client",
}
_REGISTRY = {"schemaRegistryUrl": TEXT_SAMPLES["schemaRegistryUrl"]}
# What some settings need beside them to be valid (the secrets are set in every case).
COMPANIONS: dict[str, dict[str, object]] = {
    "topicPattern": {"topic": ""},
    "startingPositionTimestamp": {"startingPosition": "AT_TIMESTAMP"},
    "oauthTokenUrl": _OAUTH,
    "oauthClientId": _OAUTH,
    "oauthScope": _OAUTH,
    "oauthExtensions": _OAUTH,
    "schemaRegistryKey": _REGISTRY,
    "schemaDecode": _REGISTRY,
    "schemaRecordFormat": _REGISTRY,
    "largeRecordsKmsKeyArn": {"largeRecords": "s3://claim-checks/records/"},
    "dlqOverflow": {"dlq": "arn:aws:sqs:us-east-1:123456789012:dead-letters"},
}
# Every secret setting, valid together: SASL_SSL with OAUTHBEARER, and a client certificate.
PLAIN_KEYS = [d for d in BRIDGE_KEYS if not d.secret]


@cache
def _stack(stack: str) -> Deployment:
    return deploy_stack_file(stack)


@cache
def _minimal() -> Deployment:
    return deploy(MINIMAL_CONFIG)


def _bridge_accepts(
    environment: dict[str, str], secrets: Any = ("KAFKA_PASSWORD",)
) -> BridgeSettings:
    # Secrets arrive from `secrets` at run time; a stand-in shaped like any of them here.
    return load_settings({**environment, **{name: SECRET_PLACEHOLDER for name in secrets}})


def _bridge_reads(deployment: Deployment) -> BridgeSettings:
    """The settings the container of this deployment starts with."""
    secrets = [secret["name"] for secret in deployment.container()["secrets"]]
    return _bridge_accepts(deployment.environment(), secrets)


def _accepted_alone(declaration: Declaration, value: Any) -> bool:
    environment = {**_minimal().environment(), declaration.env: to_text(value)}
    environment.pop("KAFKA_TOPIC") if declaration.field == "kafka_topic_pattern" else None
    try:
        _bridge_accepts(environment)
    except BridgeConfigurationError:
        return False
    return True


def _sample(declaration: Declaration) -> Any:
    """A value of the setting that the bridge accepts and that is neither the stack's default
    nor the bridge's."""
    key = str(declaration.stack_key)
    if key in TEXT_SAMPLES:
        return TEXT_SAMPLES[key]
    default = declaration.stack_default
    if declaration.choices:
        defaults = {default, to_text(declaration.default)}
        return next(choice for choice in declaration.choices if choice not in defaults)
    if declaration.stack_type == "boolean":
        return not default
    assert declaration.stack_type == "integer", f"add a sample of {key} to TEXT_SAMPLES"
    candidates = [(default or 0) + 1, 1024, 2048, 65536]
    return next(value for value in candidates if _accepted_alone(declaration, value))


@pytest.mark.parametrize("declaration", PLAIN_KEYS, ids=[str(d.stack_key) for d in PLAIN_KEYS])
def test_a_stack_value_reaches_the_container_as_the_bridges_variable_with_the_same_value(
    declaration: Declaration,
) -> None:
    key = str(declaration.stack_key)
    value = _sample(declaration)
    assert value != declaration.stack_default
    config = {**MINIMAL_CONFIG, **COMPANIONS.get(key, {}), key: value}
    deployment = deploy(config, secrets=_secrets_for(config))
    assert deployment.environment()[declaration.env] == to_text(value)
    from_stack = getattr(_bridge_reads(deployment), declaration.field)
    alone = {**_minimal().environment(), declaration.env: to_text(value)}
    if key not in COMPANIONS:
        assert from_stack == getattr(_bridge_accepts(alone), declaration.field)
    assert from_stack != declaration.default


def _secrets_for(config: dict[str, object]) -> dict[str, str]:
    secrets = {}
    if config.get("saslMechanism") == "OAUTHBEARER":
        secrets["oauthClientSecret"] = "s3cr3t"
    if config.get("schemaRegistryKey"):
        secrets["schemaRegistrySecret"] = "s3cr3t"
    return secrets


# Left to their stack defaults by the minimal stack (the dead-letter location is the stack's
# own bucket, never a default).
DEFAULTED_KEYS = [d for d in PLAIN_KEYS if d.stack_key not in MINIMAL_CONFIG and d.field != "dlq"]


@pytest.mark.parametrize(
    "declaration", DEFAULTED_KEYS, ids=[str(d.stack_key) for d in DEFAULTED_KEYS]
)
def test_a_stack_default_reaches_the_container_only_where_it_is_not_the_bridges(
    declaration: Declaration,
) -> None:
    environment = _minimal().environment()
    bridge = _bridge_accepts(environment)
    if declaration.env in environment:
        assert getattr(bridge, declaration.field) != declaration.default
    else:
        assert getattr(bridge, declaration.field) == declaration.default


def test_the_stack_defaults_that_differ_from_the_bridges_are_in_the_environment() -> None:
    environment = _minimal().environment()
    assert environment["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert environment["ON_FAILURE"] == "dlq"
    assert "PAYLOAD_FORMAT" not in environment  # native, the bridge's default
    assert "BATCH_SIZE" not in environment


@pytest.mark.parametrize("stack", STACKS)
def test_every_variable_a_stack_sets_is_a_setting_of_the_bridge(stack: str) -> None:
    fields = set(BridgeSettings.model_fields)
    for name in _stack(stack).environment():
        assert name.lower() in fields, f"{name} is not a BridgeSettings field"


@pytest.mark.parametrize("stack", STACKS)
def test_the_bridge_accepts_the_environment_each_stack_renders(stack: str) -> None:
    deployment = _stack(stack)
    settings = _bridge_accepts(deployment.environment())
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.payload_format.value == "legacy"
    assert settings.kafka_properties == {"fetch_min_bytes": 100000, "max_poll_records": 500}
    assert settings.dlq == deployment.outputs["deadLetters"][0]


def test_the_bridge_accepts_the_environment_of_a_minimal_stack() -> None:
    settings = _bridge_accepts(_minimal().environment())
    assert settings.kafka_topic == ["records"]
    assert settings.lambda_function_name == "handler"


@pytest.mark.parametrize("stack", [*STACKS, "minimal"])
def test_the_password_reaches_the_container_only_through_secrets(stack: str) -> None:
    deployment = _minimal() if stack == "minimal" else _stack(stack)
    container = deployment.container()
    assert "KAFKA_PASSWORD" not in deployment.environment()
    assert TEST_PASSWORD not in str(container)
    secret = {s["name"]: s for s in container["secrets"]}["KAFKA_PASSWORD"]
    parameter = deployment.parameter("kafka-password")
    assert secret["valueFrom"].endswith(f":parameter{parameter.inputs['name']}")


def test_every_secret_setting_reaches_the_container_only_through_ssm_and_secrets() -> None:
    values = {key: f"{key}-value-must-stay-secret" for key in SECRET_KEYS}
    # PEM text, as an operator would set it, for the certificate and key.
    values["kafkaClientCertificate"] = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"
    values["kafkaClientKey"] = "-----BEGIN PRIVATE KEY-----\ny\n-----END PRIVATE KEY-----\n"
    password = values.pop("kafkaPassword")
    deployment = deploy(_OAUTH_STACK, password=password, secrets=values)
    values["kafkaPassword"] = password
    container = deployment.container()
    parameters = {p.inputs["name"]: p for p in deployment.of_type("aws:ssm/parameter:Parameter")}
    by_variable = {
        s["name"]: s["valueFrom"].split(":parameter", 1)[1] for s in container["secrets"]
    }
    secret_declarations = [d for d in BRIDGE_KEYS if d.secret]
    assert set(by_variable) == {d.env for d in secret_declarations}
    assert not set(by_variable) & set(deployment.environment())
    for declaration in secret_declarations:
        parameter = parameters[by_variable[declaration.env]]
        assert parameter.inputs["type"] == "SecureString"
        assert list(secret_values(parameter.inputs["value"])) == [
            values[str(declaration.stack_key)]
        ]
    for resource in deployment.resources:
        for text in plaintext_strings(resource.inputs):
            assert not any(secret in text for secret in values.values()), resource.name
    read = _by_sid(deployment.role_policy("-execution"))["ReadSecrets"]["Resource"]
    assert len(read) == len(secret_declarations)


# Every secret at once: OAUTHBEARER's, the client certificate's, and a registry's.
_OAUTH_STACK = {
    **MINIMAL_CONFIG,
    **_OAUTH,
    **_REGISTRY,
    "schemaRegistryKey": TEXT_SAMPLES["schemaRegistryKey"],
}


def _by_sid(policy: dict[str, Any]) -> dict[str, Any]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_what_stood_in_for_the_bucket_and_the_secrets_never_reaches_the_container() -> None:
    deployment = _minimal()
    environment = deployment.environment()
    assert environment["DLQ"] == deployment.outputs["deadLetters"][0]
    assert STACK_BUCKET_PLACEHOLDER not in str(deployment.container())
    assert SECRET_PLACEHOLDER not in str(deployment.container())


_PEM = "-----BEGIN {0}-----\nMIIB\n-----END {0}-----\n"
MECHANISM_STACKS: dict[str, tuple[dict[str, object], dict[str, str]]] = {
    # name: (stack values, secrets)
    "PLAIN": ({}, {"kafkaPassword": TEST_PASSWORD}),
    "SCRAM-SHA-256": ({"saslMechanism": "SCRAM-SHA-256"}, {"kafkaPassword": TEST_PASSWORD}),
    "SCRAM-SHA-512": ({"saslMechanism": "SCRAM-SHA-512"}, {"kafkaPassword": TEST_PASSWORD}),
    "OAUTHBEARER": (_OAUTH, {"oauthClientSecret": "s3cr3t"}),
    "AWS_MSK_IAM": (
        {
            "saslMechanism": "AWS_MSK_IAM",
            "username": "",
            "mskClusterArn": f"arn:aws:kafka:us-east-1:{'1' * 12}:cluster/c/0a1b-2",
        },
        {},
    ),
    "mutual TLS": (
        {"securityProtocol": "SSL", "username": ""},
        {
            "kafkaClientCertificate": _PEM.format("CERTIFICATE"),
            "kafkaClientKey": _PEM.format("KEY"),
        },
    ),
}


@pytest.mark.parametrize("mechanism", sorted(MECHANISM_STACKS))
def test_every_mechanism_deploys_a_container_the_bridge_starts_with(mechanism: str) -> None:
    values, given = MECHANISM_STACKS[mechanism]
    secrets = dict(given)
    password = secrets.pop("kafkaPassword", None)
    deployment = deploy({**MINIMAL_CONFIG, **values}, password=password, secrets=secrets)
    settings = _bridge_reads(deployment)
    secret_variables = {s["name"] for s in deployment.container()["secrets"]}
    made = {"KEY_HASH_SECRET"}  # the stack makes it when none is given
    assert secret_variables == {d.env for d in BRIDGE_KEYS if d.stack_key in given} | made
    if mechanism == "mutual TLS":
        assert settings.kafka_security_protocol == "SSL"
        assert settings.kafka_ssl_certificate is not None
    else:
        assert settings.kafka_sasl_mechanism == mechanism
