"""The Pulumi program runs in its own virtualenv with requirements/infra.txt only. Of the
consumer's code it loads the settings declarations and what they import, all of which must
need nothing beyond the standard library and that lock (pydantic, no aiokafka)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.imports import imports_outside, modules_installed_by

REPO = Path(__file__).resolve().parents[2]
PROGRAM = [REPO / "__main__.py", *sorted((REPO / "infra").glob("*.py"))]


def _consumer_modules_loaded_by(paths: list[Path]) -> set[str]:
    """Every `consumer.*` module the files import, and those these import, and so on."""
    found: set[str] = set()
    pending = list(paths)
    while pending:
        tree = ast.parse(pending.pop().read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("consumer.") and name not in found:
                    found.add(name)
                    pending.append(REPO / (name.replace(".", "/") + ".py"))
    return found


def test_the_program_imports_only_stdlib_and_the_infra_lock() -> None:
    allowed = modules_installed_by("infra.txt")
    assert {"pulumi", "pulumi_aws", "pulumi_docker", "pydantic"} <= allowed
    assert "aiokafka" not in allowed
    loaded = _consumer_modules_loaded_by(PROGRAM)
    assert "consumer.settings.model" in loaded
    sources = [*PROGRAM, *(REPO / (m.replace(".", "/") + ".py") for m in sorted(loaded))]
    for path in sources:
        outside = imports_outside(path.read_text(), allowed, {"infra", "consumer"})
        assert not outside, f"{path.relative_to(REPO)} imports {outside}, absent from .venv-infra"


def test_the_import_check_catches_what_the_infra_lock_lacks() -> None:
    allowed = modules_installed_by("infra.txt")
    source = "import pulumi\nfrom consumer.settings import BridgeSettings\nimport aiokafka\n"
    assert imports_outside(source, allowed, {"infra"}) == {"consumer", "aiokafka"}
    assert imports_outside(source, allowed, {"infra", "consumer"}) == {"aiokafka"}


def test_the_program_loads_no_consumer_module_that_needs_aiokafka() -> None:
    loaded = _consumer_modules_loaded_by(PROGRAM)
    needs_aiokafka = {"consumer.kafka.connection", "consumer.bridge", "consumer.aws_lambda.invoker"}
    assert not loaded & needs_aiokafka
