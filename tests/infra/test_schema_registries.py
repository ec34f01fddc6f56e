"""Schema registries on the Pulumi side: a Confluent-compatible registry's secret travels like
the Kafka password (Pulumi secret → SSM SecureString → the task definition's `secrets`), its
port is open; a Glue registry is readable by the task role, that registry only; and nothing
of either exists in a stack that names no registry."""

from __future__ import annotations

from typing import Any

import pytest

from infra.settings import ConfigurationError
from tests.support.pulumi_program import (
    ACCOUNT_ID,
    MINIMAL_CONFIG,
    TEST_PASSWORD,
    Deployment,
    deploy,
    deploy_stack_file,
    plaintext_strings,
    run_program,
    secret_values,
)

REGISTRY_URL = "https://psrc-0abc.us-east-2.aws.confluent.cloud"
REGISTRY_KEY = "REGISTRYAPIKEY"
REGISTRY_SECRET = "registry-secret-5e1b-must-stay-secret"
CONFLUENT: dict[str, object] = {
    **MINIMAL_CONFIG,
    "schemaRegistryUrl": REGISTRY_URL,
    "schemaRegistryKey": REGISTRY_KEY,
}
GLUE_ARN = f"arn:aws:glue:eu-west-1:{ACCOUNT_ID}:registry/orders"
GLUE: dict[str, object] = {**MINIMAL_CONFIG, "glueSchemaRegistryArn": GLUE_ARN}


def _confluent(**values: object) -> Deployment:
    return deploy({**CONFLUENT, **values}, secrets={"schemaRegistrySecret": REGISTRY_SECRET})


def _by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def _egress_ports(deployment: Deployment) -> dict[int, str]:
    group = deployment.one("aws:ec2/securityGroup:SecurityGroup").inputs
    return {rule["fromPort"]: rule["description"] for rule in group["egress"]}


def test_the_registry_secret_reaches_the_container_only_through_ssm_and_secrets() -> None:
    deployment = _confluent()
    environment = deployment.environment()
    assert "SCHEMA_REGISTRY_SECRET" not in environment
    secrets = {s["name"]: s["valueFrom"] for s in deployment.container()["secrets"]}
    assert set(secrets) == {"KAFKA_PASSWORD", "SCHEMA_REGISTRY_SECRET", "KEY_HASH_SECRET"}
    (parameter,) = [
        p
        for p in deployment.of_type("aws:ssm/parameter:Parameter")
        if p.inputs["name"] == "/kafka-to-lambda/test/schema-registry-secret"
    ]
    assert parameter.inputs["type"] == "SecureString"
    assert list(secret_values(parameter.inputs["value"])) == [REGISTRY_SECRET]
    assert secrets["SCHEMA_REGISTRY_SECRET"].endswith(f":parameter{parameter.inputs['name']}")


def test_the_execution_role_reads_the_registry_secrets_parameter_and_the_passwords_only() -> None:
    deployment = _confluent()
    parameters = sorted(
        f"arn:aws:ssm:us-east-1:{ACCOUNT_ID}:parameter{p.inputs['name']}"
        for p in deployment.of_type("aws:ssm/parameter:Parameter")
    )
    assert len(parameters) == 3  # the password, the registry's secret, the key-hash secret
    read = _by_sid(deployment.role_policy("-execution"))["ReadSecrets"]
    assert read["Action"] == "ssm:GetParameters"
    assert read["Resource"] == parameters


def test_no_resource_input_or_output_holds_the_registry_secret_in_plaintext() -> None:
    deployment = _confluent()
    for resource in deployment.resources:
        for text in plaintext_strings(resource.inputs):
            assert REGISTRY_SECRET not in text, f"{resource.type} {resource.name}"
            assert TEST_PASSWORD not in text, f"{resource.type} {resource.name}"
    for name, (value, is_secret) in deployment.outputs.items():
        assert is_secret or REGISTRY_SECRET not in str(value), name
    assert deployment.outputs["secretParameterNames"][0] == {
        "kafkaPassword": "/kafka-to-lambda/test/kafka-password",
        "schemaRegistrySecret": "/kafka-to-lambda/test/schema-registry-secret",
        "keyHashSecret": "/kafka-to-lambda/test/key-hash-secret",
    }


def test_a_new_registry_secret_restarts_the_tasks_which_read_it_only_when_they_start() -> None:
    service = _confluent().one("aws:ecs/service:Service").inputs
    assert service["triggers"] == {"secretVersions": "1,1,1"}  # every parameter's version


def test_the_registrys_url_key_and_decoding_reach_the_environment_as_plain_settings() -> None:
    deployment = _confluent(schemaDecode="both", schemaRecordFormat="JSON")
    environment = deployment.environment()
    assert environment["SCHEMA_REGISTRY_URL"] == REGISTRY_URL
    assert environment["SCHEMA_REGISTRY_KEY"] == REGISTRY_KEY
    assert environment["SCHEMA_DECODE"] == "both"
    assert environment["SCHEMA_RECORD_FORMAT"] == "JSON"


def test_the_decoding_defaults_reach_no_environment_and_need_no_registry() -> None:
    environment = deploy(MINIMAL_CONFIG).environment()
    assert not {name for name in environment if "SCHEMA" in name or "GLUE" in name}


@pytest.mark.parametrize(
    ("url", "port"),
    [
        (REGISTRY_URL, 443),
        ("https://registry.internal.example.com:8081", 8081),
        ("http://127.0.0.1/apis/ccompat/v7", 80),  # http:// only to loopback, with a secret
    ],
)
def test_the_security_group_lets_the_task_reach_the_registrys_port(url: str, port: int) -> None:
    ports = _egress_ports(_confluent(schemaRegistryUrl=url))
    kafka_ports = {9092, 9093}  # MINIMAL_CONFIG's brokers
    assert set(ports) == {443, port, *kafka_ports}
    assert "schema registry" in ports[port]
    assert ports[443].startswith("AWS APIs (HTTPS)")


def test_without_a_registry_url_no_port_is_opened_for_one() -> None:
    ports = _egress_ports(deploy(GLUE))
    assert ports == {443: "AWS APIs (HTTPS)", 9092: "Kafka brokers", 9093: "Kafka brokers"}


def test_the_task_role_reads_the_glue_registry_and_its_schemas_and_nothing_else_of_glue() -> None:
    statements = _by_sid(deploy(GLUE).role_policy("-task"))
    assert set(statements) == {
        "InvokeFunction",
        "ReadFunctionTimeout",
        "WriteDeadLetters",
        "CheckSchemaRegistry",
        "ReadSchemaVersions",
    }
    assert statements["CheckSchemaRegistry"] == {
        "Sid": "CheckSchemaRegistry",
        "Effect": "Allow",
        "Action": "glue:GetRegistry",
        "Resource": GLUE_ARN,
    }
    assert statements["ReadSchemaVersions"] == {
        "Sid": "ReadSchemaVersions",
        "Effect": "Allow",
        "Action": "glue:GetSchemaVersion",
        "Resource": [GLUE_ARN, f"arn:aws:glue:eu-west-1:{ACCOUNT_ID}:schema/orders/*"],
    }


def test_the_glue_registry_is_named_in_the_container_as_given() -> None:
    environment = deploy(GLUE).environment()
    assert environment["GLUE_SCHEMA_REGISTRY_ARN"] == GLUE_ARN
    assert "GLUE_ENDPOINT_URL" not in environment  # tests and local runs only


@pytest.mark.parametrize("case", ["staging", "prod", "minimal", "confluent"])
def test_a_stack_without_a_glue_registry_grants_nothing_of_glue(case: str) -> None:
    deployment = (
        deploy(MINIMAL_CONFIG)
        if case == "minimal"
        else _confluent()
        if case == "confluent"
        else deploy_stack_file(case)
    )
    for role in ("-task", "-execution"):
        for statement in deployment.role_policy(role)["Statement"]:
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                assert not action.startswith("glue:"), (role, statement)


def _refusal(config: dict[str, object], secrets: dict[str, str] | None = None) -> str:
    deployment = run_program(config, secrets=secrets)
    assert isinstance(deployment.error, ConfigurationError), deployment.error
    assert deployment.resources == []
    return str(deployment.error)


def test_a_glue_registry_arn_that_is_not_one_stops_the_program_before_any_resource() -> None:
    arn = f"arn:aws:glue:eu-west-1:{ACCOUNT_ID}:schema/orders/order"
    assert _refusal({**MINIMAL_CONFIG, "glueSchemaRegistryArn": arn}) == (
        f"kafka-to-lambda:glueSchemaRegistryArn={arn!r} is not a Glue registry ARN "
        "(arn:aws:glue:<region>:<account>:registry/<name>); fix it with: pulumi config set "
        "glueSchemaRegistryArn arn:aws:glue:<region>:<account>:registry/<name>"
    )


def test_a_registry_key_without_its_secret_stops_the_program_naming_the_secret() -> None:
    assert _refusal(CONFLUENT) == (
        "kafka-to-lambda:schemaRegistrySecret: schemaRegistryKey and schemaRegistrySecret go "
        "together (basic auth); fix it with: pulumi config set --secret schemaRegistrySecret"
    )


def test_a_registry_secret_without_its_key_stops_the_program_naming_the_key() -> None:
    config = {**MINIMAL_CONFIG, "schemaRegistryUrl": REGISTRY_URL}
    message = _refusal(config, secrets={"schemaRegistrySecret": REGISTRY_SECRET})
    assert message == (
        "kafka-to-lambda:schemaRegistryKey and schemaRegistrySecret go together (basic auth); "
        "fix it with: pulumi config set schemaRegistryKey <registry API key>"
    )


def test_both_registries_at_once_stop_the_program() -> None:
    assert _refusal({**GLUE, "schemaRegistryUrl": REGISTRY_URL}).startswith(
        "kafka-to-lambda:glueSchemaRegistryArn and schemaRegistryUrl exclude each other: "
    )


def test_decoding_keys_without_a_registry_stop_the_program() -> None:
    message = _refusal({**MINIMAL_CONFIG, "schemaDecode": "key"})
    assert message == (
        "kafka-to-lambda:schemaDecode needs a registry: schemaRegistryUrl or "
        "glueSchemaRegistryArn; fix it with: pulumi config set schemaDecode value"
    )
