"""The Pulumi program runs in its own virtualenv with requirements/infra.txt only: no
pydantic, no aiokafka, and of the consumer's code only the metric list (stdlib only)."""

from __future__ import annotations

from pathlib import Path

from tests.support.imports import imports_outside, modules_installed_by

REPO = Path(__file__).resolve().parents[2]
PROGRAM = [REPO / "__main__.py", *sorted((REPO / "infra").glob("*.py"))]


def test_the_program_imports_only_stdlib_and_the_infra_lock() -> None:
    allowed = modules_installed_by("infra.txt")
    assert {"pulumi", "pulumi_aws", "pulumi_docker"} <= allowed
    assert "pydantic" not in allowed
    for path in PROGRAM:
        outside = imports_outside(path.read_text(), allowed, {"infra", "consumer.metrics"})
        assert not outside, f"{path.relative_to(REPO)} imports {outside}, absent from .venv-infra"


def test_the_import_check_catches_the_consumers_settings() -> None:
    allowed = modules_installed_by("infra.txt")
    source = "import pulumi\nfrom consumer.settings import BridgeSettings\nimport pydantic\n"
    assert imports_outside(source, allowed, {"infra"}) == {"consumer", "pydantic"}


def test_the_metric_list_the_program_reads_needs_only_the_standard_library() -> None:
    source = (REPO / "consumer" / "metrics.py").read_text()
    assert imports_outside(source, set(), set()) == set()
