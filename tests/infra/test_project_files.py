"""The Pulumi project and stack files are valid and carry the settings they must."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# The schema is shared beside the repository (../shared), not copied into it.
SCHEMA = REPO.parent / "shared" / "schemas" / "pulumi-project.json"


def _load_yaml(name: str) -> Any:
    return yaml.safe_load((REPO / name).read_text())


def test_project_file_validates_against_pulumis_schema() -> None:
    assert SCHEMA.is_file(), f"the Pulumi project schema is missing at {SCHEMA}"
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


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_stack_files_use_the_project_namespace_and_hold_no_plaintext_password(
    stack: str,
) -> None:
    project = _load_yaml("Pulumi.yaml")["name"]
    config = _load_yaml(f"Pulumi.{stack}.yaml")["config"]
    namespaces = {key.split(":", 1)[0] for key in config}
    assert namespaces <= {project, "aws"}, namespaces
    password = config.get(f"{project}:kafkaPassword")
    assert password is None or (isinstance(password, dict) and set(password) == {"secure"})


def test_staging_and_prod_carry_the_replaced_systems_values() -> None:
    staging = _load_yaml("Pulumi.staging.yaml")["config"]
    prod = _load_yaml("Pulumi.prod.yaml")["config"]
    assert staging["kafka-to-lambda:topic"] == "cspec-ruleset"
    assert staging["kafka-to-lambda:groupId"] == "stanford_dev_cspec_14"
    assert staging["kafka-to-lambda:lambdaFunctionName"] == "echo"
    assert prod["kafka-to-lambda:topic"] == "stanford-prod"
    assert prod["kafka-to-lambda:lambdaFunctionName"] == (
        "gci-vci-serverless-template-gci-vci-kafka-cspec"
    )
    for config in (staging, prod):
        assert config["kafka-to-lambda:securityProtocol"] == "SASL_SSL"
        assert config["kafka-to-lambda:payloadFormat"] == "legacy"
        assert config["kafka-to-lambda:kafkaProperties"]["fetch_min_bytes"] == 100000
