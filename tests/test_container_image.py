"""The consumer image holds the consumer and its pinned dependencies, and nothing else.

No Docker engine runs here, so the Dockerfile is checked as text, and the code it copies
is checked to import nothing the image does not install.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE_CODE = REPO / "consumer"
LOCAL_ONLY = IMAGE_CODE / "local"  # served to developers, left out of the image


def _locked_names(lock: str) -> set[str]:
    names = set()
    for line in (REPO / "requirements" / lock).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==", line)
        if match:
            names.add(match.group(1).lower().replace("_", "-"))
    return names


def _modules_installed_by(lock: str) -> set[str]:
    locked = _locked_names(lock)
    return {
        module
        for module, dists in packages_distributions().items()
        if any(d.lower().replace("_", "-") in locked for d in dists)
    }


def imports_outside_the_image(source: str, allowed_modules: set[str]) -> set[str]:
    """Top-level modules `source` imports that are neither stdlib, ours, nor installed."""
    outside = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if name.startswith("consumer.local"):
                outside.add(name)
            elif top not in sys.stdlib_module_names | allowed_modules | {"consumer"}:
                outside.add(top)
    return outside


def test_image_code_imports_only_stdlib_and_the_consumer_lock() -> None:
    allowed = _modules_installed_by("consumer.txt")
    assert {"aiokafka", "aioboto3", "botocore"} <= allowed
    for path in IMAGE_CODE.rglob("*.py"):
        if LOCAL_ONLY in path.parents:
            continue
        outside = imports_outside_the_image(path.read_text(), allowed)
        assert not outside, f"{path.relative_to(REPO)} imports {outside}, absent from the image"


def test_the_import_check_catches_a_module_the_image_lacks() -> None:
    allowed = _modules_installed_by("consumer.txt")
    source = "import json\nimport pulumi\nfrom consumer.local.tansu import TansuBroker\n"
    assert imports_outside_the_image(source, allowed) == {"pulumi", "consumer.local.tansu"}


def test_dockerfile_installs_only_the_consumer_lock_and_runs_the_consumer_as_non_root() -> None:
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())  # join continued lines
    by_kind: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            kind, argument = line.strip().split(None, 1)
            by_kind.setdefault(kind, []).append(argument)

    # The image's Python must be the one the locks were resolved for.
    lock_header = (REPO / "requirements" / "consumer.txt").read_text()
    assert "--python-version 3.11" in lock_header
    assert by_kind["FROM"] == ["python:3.11-slim-bookworm"]
    assert by_kind["COPY"] == [
        "requirements/consumer.txt requirements/consumer.txt",
        "consumer/ consumer/",
    ]
    assert by_kind["RUN"] == ["pip install --no-deps -r requirements/consumer.txt"]
    (user,) = by_kind["USER"]
    assert user.split(":")[0] not in ("0", "root")
    assert json.loads(by_kind["CMD"][0]) == ["python", "-m", "consumer"]


def test_docker_build_context_leaves_out_tests_infra_and_the_local_mode() -> None:
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "everything is excluded first, then the few things the image needs"
    assert {r for r in rules if r.startswith("!")} == {"!requirements/consumer.txt", "!consumer/"}
    assert "consumer/local/" in rules
