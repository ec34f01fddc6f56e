"""The Pulumi project and stack files are valid and carry the settings they must."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from infra.settings import BRIDGE_KEYS, CONFIG_DEFAULTS, SECRET_KEYS
from tests.support.project_config import config_block, config_block_in_file
from tests.support.pulumi_program import load_stack_settings, stack_file_arguments
from tests.support.stack_config_table import stack_config_table, table_in_page
from tests.support.stack_files import read_stack_file, rewritten_by_the_cli, stack_path

REPO = Path(__file__).resolve().parents[2]
# Pulumi's JSON schema for project files (pulumi/pulumi, sdk/go/common/workspace/project.json,
# Apache-2.0), carried here so the check runs in every clone.
SCHEMA = REPO / "tests" / "support" / "schemas" / "pulumi-project.json"
STACKS = ["staging", "prod"]
PYTHON_TYPE_OF = {"string": str, "integer": int, "boolean": bool, "array": list}
# Lag per task autoscaling keeps prod near: 60 s of what one task delivers when its CPU is
# the limit (docs/operating.md, "Scaling", derives it from the benchmarks).
PROD_TARGET_LAG_PER_TASK = 1_800_000


def _load_yaml(name: str) -> Any:
    return yaml.safe_load((REPO / name).read_text())


def _declarations() -> dict[str, dict[str, Any]]:
    declarations: dict[str, dict[str, Any]] = _load_yaml("Pulumi.yaml")["config"]
    return declarations


def _raw_project_keys(text: str) -> dict[str, Any]:
    """The project keys of a stack file as YAML reads them (before Pulumi types them)."""
    project = _load_yaml("Pulumi.yaml")["name"]
    config = yaml.safe_load(text)["config"]
    return {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith(project)}


def _stack_texts() -> list[Any]:
    """Each stack file as committed, and as the Pulumi CLI leaves it after a
    `pulumi config set --secret kafkaPassword`: every test of the files holds for both."""
    return [
        pytest.param(stack, text, id=f"{stack}-{how}")
        for stack in STACKS
        for how, text in [
            ("committed", stack_path(stack).read_text()),
            ("rewritten-by-the-cli", rewritten_by_the_cli(stack_path(stack).read_text())),
        ]
    ]


def pulumi_accepts(declaration: dict[str, Any], value: Any) -> bool:
    """Pulumi's own check of a stack value against a typed project key (ValidateConfigValue)."""
    kind = declaration["type"]
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        if isinstance(value, str):
            return value.lstrip("-").isdigit()
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and math.trunc(value) == value
        )
    if kind == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    items = declaration.get("items")
    return (
        isinstance(value, list)
        and items is not None
        and all(pulumi_accepts(items, item) for item in value)
    )


def test_project_file_validates_against_pulumis_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(_load_yaml("Pulumi.yaml"), schema)


def test_project_runs_python_in_its_own_virtualenv_with_the_infra_pins() -> None:
    runtime = _load_yaml("Pulumi.yaml")["runtime"]
    assert runtime["name"] == "python"
    assert runtime["options"]["toolchain"] == "pip"
    assert runtime["options"]["virtualenv"]
    # Pulumi's pip toolchain installs ./requirements.txt: it must be the infra lock only.
    lines = [
        line
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["-r requirements/infra.txt"]


def test_project_declares_exactly_the_keys_the_program_reads_with_its_defaults() -> None:
    declarations = _declarations()
    optional_secrets = {k for k in SECRET_KEYS if CONFIG_DEFAULTS[k] is not None}
    assert set(declarations) == set(CONFIG_DEFAULTS) - optional_secrets
    for key, declaration in declarations.items():
        assert declaration.get("description"), f"{key} has no description"
        assert declaration.get("secret", False) == (key in SECRET_KEYS), key
        default = CONFIG_DEFAULTS[key]
        if default is None:
            assert "default" not in declaration, f"{key} is required: no default"
        else:
            assert declaration["default"] == default, key
            assert type(default) is PYTHON_TYPE_OF[declaration["type"]], key
            assert pulumi_accepts(declaration, default), key


def test_the_secret_has_no_default_because_pulumi_would_store_it_unencrypted() -> None:
    # Pulumi applies a default as a plain value, then rejects it for a `secret: true` key.
    for key in SECRET_KEYS:
        assert "default" not in _declarations().get(key, {})


@pytest.mark.parametrize(("stack", "text"), _stack_texts())
def test_stack_values_have_the_types_the_project_declares(stack: str, text: str) -> None:
    declarations = _declarations()
    for key, value in _raw_project_keys(text).items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Optional secrets cannot be declared (Pulumi would store a default in plaintext).
            assert key in SECRET_KEYS, f"Pulumi.{stack}.yaml encrypts {key}, not a secret"
            continue
        assert key in declarations, f"Pulumi.{stack}.yaml sets {key}, which is not declared"
        assert pulumi_accepts(declarations[key], value), f"{key}: {value!r}"


def test_the_pulumi_type_check_rejects_an_object_for_a_string_key() -> None:
    # Why kafkaProperties is JSON text in the stack files: Pulumi has no object type.
    assert not pulumi_accepts({"type": "string"}, {"fetch_min_bytes": 1})
    assert not pulumi_accepts({"type": "integer"}, "twenty")
    assert not pulumi_accepts({"type": "array", "items": {"type": "string"}}, [1])


@pytest.mark.parametrize(("stack", "text"), _stack_texts())
def test_stack_files_use_the_project_namespace_and_hold_no_plaintext_password(
    stack: str, text: str
) -> None:
    project = _load_yaml("Pulumi.yaml")["name"]
    config = yaml.safe_load(text)["config"]
    namespaces = {key.split(":", 1)[0] for key in config}
    assert namespaces <= {project, "aws"}, namespaces
    assert config.get("aws:region"), "each stack names its AWS region"
    password = config.get(f"{project}:kafkaPassword")
    assert password is None or (isinstance(password, dict) and set(password) == {"secure"})
    assert "kafkaPassword" not in read_stack_file(stack, text).values


@pytest.mark.parametrize("rewritten", [False, True], ids=["committed", "rewritten-by-the-cli"])
def test_staging_and_prod_carry_the_replaced_systems_values(rewritten: bool) -> None:
    texts = {
        name: rewritten_by_the_cli(stack_path(name).read_text()) if rewritten else None
        for name in STACKS
    }
    staging = read_stack_file("staging", texts["staging"]).values
    prod = read_stack_file("prod", texts["prod"]).values
    assert staging["bootstrapServers"] == "pkc-4yyd6.us-east1.gcp.confluent.cloud:9092"
    assert staging["topic"] == "cspec-ruleset"
    assert staging["groupId"] == "stanford_dev_cspec_14"
    assert staging["username"] == "4LYO267GMEJZOLAU"
    assert staging["lambdaFunctionName"] == "echo"
    assert prod["topic"] == "stanford-prod"
    assert prod["lambdaFunctionName"] == "gci-vci-serverless-template-gci-vci-kafka-cspec"
    # One task handles every partition: autoscaling on lag, 2 tasks at least, one per
    # partition at most (the replaced system ran 20, one per partition, all the time).
    assert prod["autoscaling"] is True
    assert (prod["partitions"], prod["minTasks"], prod["maxTasks"]) == (20, 2, 20)
    assert prod["targetLagPerTask"] == PROD_TARGET_LAG_PER_TASK
    assert "desiredCount" not in prod
    assert staging["desiredCount"] == 1
    assert "autoscaling" not in staging
    for config in (staging, prod):
        assert config["securityProtocol"] == "SASL_SSL"
        assert config["saslMechanism"] == "PLAIN"
        assert config["payloadFormat"] == "legacy"
        properties = json.loads(config["kafkaProperties"])
        assert properties == {"fetch_min_bytes": 100000, "max_poll_records": 500}


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_file_rewritten_by_the_cli_loads_the_same_settings(stack: str) -> None:
    """`pulumi config set` turns every value into a string, adds the salt and the secret;
    the program reads the same stack from it."""
    committed_config, committed_options = stack_file_arguments(stack)
    text = rewritten_by_the_cli(stack_path(stack).read_text(), secrets=("kafkaPassword",))
    rewritten_config, rewritten_options = stack_file_arguments(stack, text)
    assert any(isinstance(v, str) for v in yaml.safe_load(text)["config"].values())

    committed = load_stack_settings(committed_config, **committed_options)
    rewritten = load_stack_settings(rewritten_config, **rewritten_options)

    assert rewritten.infra == committed.infra
    assert rewritten.bridge == committed.bridge
    assert rewritten.environment == committed.environment
    assert set(rewritten.secrets) == set(committed.secrets) == {"kafka_password"}
    assert rewritten.dead_letter_target == committed.dead_letter_target


def test_the_stack_file_reader_types_values_as_the_project_declares_them() -> None:
    """The test above would pass if both read every value as text: this one would not."""
    text = rewritten_by_the_cli(stack_path("staging").read_text())
    assert "desiredCount: '1'" in text
    values = read_stack_file("staging", text).values
    assert values["desiredCount"] == 1
    assert (
        read_stack_file("prod", rewritten_by_the_cli(stack_path("prod").read_text())).values[
            "autoscaling"
        ]
        is True
    )


def test_the_deploying_page_tells_the_operator_to_set_what_prod_leaves_unset() -> None:
    prod = read_stack_file("prod").values
    required = {key for key, default in CONFIG_DEFAULTS.items() if default is None}
    unset = (required | {"username", "kafkaPassword"}) - set(prod)  # what SASL PLAIN needs
    assert unset == {"bootstrapServers", "groupId", "username", "kafkaPassword"}
    page = (REPO / "docs" / "deploying.md").read_text()
    deploy = page[page.index("## First deployment") :]
    deploy = deploy[: deploy.index("\n## ", 1)]
    for key in unset:
        assert f"pulumi config set {key}" in deploy or (
            f"pulumi config set --secret {key}" in deploy
        ), key


def test_the_deploying_page_stack_settings_table_is_generated_from_the_project_file() -> None:
    in_page = table_in_page()
    assert in_page is not None, "docs/deploying.md has no stack-config:start/stack-config:end block"
    assert in_page == stack_config_table(), "run: python -m tests.support.stack_config_table"


def test_the_project_files_config_block_is_generated_from_the_declarations() -> None:
    assert config_block_in_file() == config_block(), "run: make generated"


def test_every_bridge_key_of_the_project_file_is_a_setting_of_the_bridge() -> None:
    declared = _declarations()
    for declaration in BRIDGE_KEYS:
        if str(declaration.stack_key) not in declared:
            assert declaration.secret, declaration.stack_key  # an optional secret: undeclarable
            continue
        entry = declared[str(declaration.stack_key)]
        assert entry["description"].startswith(declaration.stack_doc)
        assert entry.get("secret", False) is declaration.secret
