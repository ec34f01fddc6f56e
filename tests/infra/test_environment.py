"""The container contract: the environment the stacks render is what the bridge reads.

Nothing here copies the bridge's variable names: they come from
`consumer.settings.BridgeSettings` at test time, and the rendered environment goes through
`consumer.settings.load_settings`, as the container would.
"""

from __future__ import annotations

import typing
from enum import Enum
from functools import cache

import pytest
from pydantic_core import PydanticUndefined

from consumer.settings import BridgeSettings, env_name, load_settings, parse_dlq
from infra.dead_letters import KafkaTopic, S3Location, parse_dead_letter_target
from infra.environment import CONSUMER_DEFAULTS, PASSWORD_FIELD
from infra.environment import env_name as infra_env_name
from infra.settings import CHOICES, INTEGER_BOUNDS
from tests.support.pulumi_program import (
    MINIMAL_CONFIG,
    TEST_PASSWORD,
    Deployment,
    deploy,
    deploy_stack_file,
)

STACKS = ["staging", "prod"]
# Choice keys that configure the deployment, not the bridge.
DEPLOYMENT_ONLY_CHOICES = {"cpuArchitecture"}


@cache
def _stack(stack: str) -> Deployment:
    return deploy_stack_file(stack)


@cache
def _minimal() -> Deployment:
    return deploy(MINIMAL_CONFIG)


def _bridge_accepts(environment: dict[str, str]) -> BridgeSettings:
    # The password arrives from `secrets` at run time; any value stands for it here.
    return load_settings({**environment, env_name(PASSWORD_FIELD): "from-ssm"})


@pytest.mark.parametrize("stack", STACKS)
def test_every_variable_a_stack_sets_is_a_setting_of_the_bridge(stack: str) -> None:
    fields = set(BridgeSettings.model_fields)
    for name in _stack(stack).environment():
        assert name.lower() in fields, f"{name} is not a BridgeSettings field"
        assert name == env_name(name.lower())


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
    password_variable = env_name(PASSWORD_FIELD)
    assert PASSWORD_FIELD in BridgeSettings.model_fields
    assert password_variable not in deployment.environment()
    assert TEST_PASSWORD not in str(container)
    (secret,) = container["secrets"]
    parameter = deployment.one("aws:ssm/parameter:Parameter")
    assert secret["name"] == password_variable
    assert secret["valueFrom"].endswith(f":parameter{parameter.inputs['name']}")


def test_infra_names_variables_by_the_bridges_rule() -> None:
    for field in BridgeSettings.model_fields:
        assert infra_env_name(field) == env_name(field)


def test_settings_left_out_of_the_environment_are_the_bridges_defaults() -> None:
    for field, value in CONSUMER_DEFAULTS.items():
        default = BridgeSettings.model_fields[field].default
        assert default is not PydanticUndefined, f"{field} has no default in the bridge"
        assert (default.value if isinstance(default, Enum) else default) == value, field


def test_a_setting_equal_to_the_bridges_default_is_not_rendered_and_others_are() -> None:
    environment = _minimal().environment()
    assert "PAYLOAD_FORMAT" not in environment  # native, the bridge's default
    assert "BATCH_SIZE" not in environment
    changed = deploy({**MINIMAL_CONFIG, "payloadFormat": "value", "batchSize": 7}).environment()
    assert changed["PAYLOAD_FORMAT"] == "value"
    assert changed["BATCH_SIZE"] == "7"


@pytest.mark.parametrize(
    ("key", "bound"),
    [
        (key, bound)
        for key, bounds in INTEGER_BOUNDS.items()
        for bound in bounds
        if bound is not None and key not in ("cpu", "memory")
    ],
)
def test_the_bridge_accepts_every_integer_the_stack_accepts_at_its_bounds(
    key: str, bound: int
) -> None:
    environment = deploy({**MINIMAL_CONFIG, key: bound}).environment()
    _bridge_accepts(environment)


def _enum_values(field: str) -> set[str] | None:
    annotation = BridgeSettings.model_fields[field].annotation
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, Enum):
            return {member.value for member in candidate}
    return None


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_the_values_a_choice_key_allows_are_exactly_those_of_the_bridges_setting(
    key: str,
) -> None:
    baseline = _minimal().environment()
    fields = set()
    for value in CHOICES[key]:
        environment = deploy({**MINIMAL_CONFIG, key: value}).environment()
        _bridge_accepts(environment)
        fields |= {
            name.lower()
            for name, rendered in environment.items()
            if rendered == value and baseline.get(name) != value
        }
    if key in DEPLOYMENT_ONLY_CHOICES:
        assert not fields, f"{key} reached the container as {fields}"
        return
    (field,) = fields
    bridge_values = _enum_values(field)
    if bridge_values is not None:
        assert set(CHOICES[key]) == bridge_values
    else:  # a plain string the bridge checks itself (log level)
        assert all(_bridge_accepts({**baseline, field.upper(): v}) for v in CHOICES[key])


@pytest.mark.parametrize(
    "location",
    ["s3://bucket/dead-letters/", "s3://bucket/dead", "s3://bucket", "kafka://failed-records"],
)
def test_a_dead_letter_location_means_the_same_to_the_stack_and_the_bridge(
    location: str,
) -> None:
    ours = parse_dead_letter_target(location)
    theirs = parse_dlq(location)
    if isinstance(ours, S3Location):
        assert (theirs.scheme, theirs.target, theirs.prefix) == ("s3", ours.bucket, ours.prefix)
    else:
        assert isinstance(ours, KafkaTopic)
        assert (theirs.scheme, theirs.target) == ("kafka", ours.topic)
    assert parse_dlq(ours.uri) == theirs
