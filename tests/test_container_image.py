"""The consumer image holds the consumer and its pinned dependencies, and nothing else.

Here the Dockerfile is checked as text; the code it copies is checked to import nothing the
image does not install; and the entry points are run with a Python that sees only the
standard library, consumer/ and the consumer lock's packages — the image's view of the
world. tests/image/ builds the image itself and runs it, where podman can.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from infra.container import CONTAINER_USER, HEALTH_CHECK_COMMAND, HEALTH_CHECK_TIMINGS_S, TMP_PATH
from tests.support.imports import (
    distributions_of,
    imports_outside,
    locked_names,
    modules_installed_by,
)

REPO = Path(__file__).resolve().parents[1]
IMAGE_CODE = REPO / "consumer"
LOCAL_ONLY = IMAGE_CODE / "local"  # served to developers, left out of the image
BASE_IMAGE = re.compile(r"^python:3\.11\.\d+-slim-bookworm$")  # a patch version, not a range


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, kind: str) -> list[str]:
        return [argument for k, argument in self.instructions if k == kind]


def _dockerfile() -> tuple[dict[str, str], list[Stage]]:
    """(ARG defaults declared before the first FROM, the build stages in order)."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())  # join continued lines
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        kind, argument = line.strip().split(None, 1)
        kind = kind.upper()
        if kind == "FROM":
            words = argument.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: arguments[m.group(1)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages and kind == "ARG":
            key, _, default = argument.partition("=")
            arguments[key] = default
        else:
            stages[-1].instructions.append((kind, argument))
    return arguments, stages


def _image_python_path(tmp_path: Path) -> list[Path]:
    """The image's import path, outside the standard library: /app and the virtualenv."""
    app = tmp_path / "app"
    shutil.copytree(IMAGE_CODE, app / "consumer", ignore=shutil.ignore_patterns("local"))
    site = tmp_path / "site-packages"
    site.mkdir()
    for dist in distributions_of("consumer.txt"):
        root = Path(str(dist.locate_file("")))
        for top in {Path(str(f)).parts[0] for f in dist.files or [] if ".." not in str(f)}:
            if not (site / top).exists():
                (site / top).symlink_to(root / top)
    return [app, site]


def _run_in_image(
    tmp_path: Path, module: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`python -m <module>` as the image runs it: isolated, no site-packages but the image's."""
    path = [str(p) for p in _image_python_path(tmp_path)]
    script = (
        f"import runpy, sys; sys.path[:0] = {path!r}; sys.argv = [{module!r}]; "
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    )
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_image_code_imports_only_stdlib_and_the_consumer_lock() -> None:
    allowed = modules_installed_by("consumer.txt")
    assert {"aiokafka", "aioboto3", "botocore"} <= allowed
    for path in IMAGE_CODE.rglob("*.py"):
        if LOCAL_ONLY in path.parents:
            continue
        outside = imports_outside(path.read_text(), allowed, {"consumer"})
        assert not outside, f"{path.relative_to(REPO)} imports {outside}, absent from the image"


def test_the_import_check_catches_a_module_the_image_lacks() -> None:
    allowed = modules_installed_by("consumer.txt")
    source = "import json\nimport pulumi\nfrom consumer.local.tansu import TansuBroker\n"
    assert imports_outside(source, allowed, {"consumer"}) == {"pulumi", "consumer.local.tansu"}


def test_the_entrypoint_runs_with_only_the_consumer_lock_installed(tmp_path: Path) -> None:
    # No settings: the bridge must get as far as reading them, then exit 2 naming the first.
    result = _run_in_image(tmp_path, "consumer", env={})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "KAFKA_BOOTSTRAP_SERVERS is required" in result.stdout + result.stderr


def test_the_health_check_runs_with_only_the_consumer_lock_installed(tmp_path: Path) -> None:
    result = _run_in_image(tmp_path, "consumer.health", env={"HEALTH_FILE": str(tmp_path / "no")})
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stdout.startswith("unhealthy: no heartbeat")


def test_the_image_sandbox_lacks_what_the_lock_lacks(tmp_path: Path) -> None:
    # The check above means something only if a package outside the lock is not importable.
    assert "pulumi" not in locked_names("consumer.txt")
    result = _run_in_image(tmp_path, "pulumi", env={})
    assert result.returncode != 0
    assert "No module named pulumi" in result.stderr


def test_dockerfile_builds_from_a_pinned_python_311_slim_base_in_two_stages() -> None:
    _, stages = _dockerfile()
    lock_header = (REPO / "requirements" / "consumer.txt").read_text()
    assert "--python-version 3.11" in lock_header  # the Python the locks were resolved for
    assert len(stages) == 2
    assert all(BASE_IMAGE.match(stage.base) for stage in stages), [s.base for s in stages]
    assert stages[0].base == stages[1].base  # the virtualenv's interpreter is the runtime's


def test_dockerfile_installs_exactly_the_consumer_lock_and_nothing_else() -> None:
    _, (dependencies, runtime) = _dockerfile()
    (copied,) = dependencies.arguments("COPY")
    source, destination = copied.split()
    assert source == "requirements/consumer.txt"
    (install,) = dependencies.arguments("RUN")
    words = shlex.split(install.split("&&")[-1])
    assert words[words.index("install") :] == ["install", "--no-deps", "-r", destination]
    runtime_runs = " ".join(runtime.arguments("RUN"))
    assert not re.search(r"-m pip|\bpip3? |\bapt(-get)? ", runtime_runs), runtime_runs
    assert runtime.arguments("COPY") == [
        f"--from={dependencies.name} /opt/bridge /opt/bridge",
        "consumer/ consumer/",
    ]


def test_dockerfile_installs_into_a_virtualenv_made_without_pip_with_the_bases_pip() -> None:
    _, (dependencies, _) = _dockerfile()
    (install,) = dependencies.arguments("RUN")
    make_venv, run_pip = (shlex.split(command) for command in install.split("&&"))
    assert make_venv == ["python", "-m", "venv", "--without-pip", "/opt/bridge"]
    assert run_pip[: run_pip.index("install")] == [
        "python",
        "-m",
        "pip",
        "--python",
        "/opt/bridge/bin/python",
    ]


def test_dockerfile_removes_the_bases_pip_setuptools_and_wheel_from_the_runtime() -> None:
    # The python image keeps them in its interpreter's site-packages (and the scripts in
    # /usr/local/bin); a base of another Python version would leave them if the path lagged.
    _, stages = _dockerfile()
    runtime = stages[1]
    version = re.match(r"python:(\d+\.\d+)\.", runtime.base)
    assert version, runtime.base
    removed = shlex.split(runtime.arguments("RUN")[0])
    assert removed[:2] == ["rm", "-rf"]
    assert set(removed[2:]) == {
        f"/usr/local/lib/python{version.group(1)}/site-packages/*",
        "/usr/local/bin/pip*",
        "/usr/local/bin/wheel",
    }


def test_dockerfile_runs_the_consumer_as_the_task_definitions_non_root_user() -> None:
    _, (_, runtime) = _dockerfile()
    (user,) = runtime.arguments("USER")
    assert user.split(":")[0] not in ("0", "root")
    assert user == CONTAINER_USER
    assert json.loads(runtime.arguments("CMD")[0]) == ["python", "-m", "consumer"]
    assert json.loads(runtime.arguments("VOLUME")[0]) == [TMP_PATH]


def test_dockerfile_health_check_is_the_task_definitions() -> None:
    _, (_, runtime) = _dockerfile()
    (check,) = runtime.arguments("HEALTHCHECK")
    options, _, command = check.partition(" CMD ")
    assert json.loads(command) == list(HEALTH_CHECK_COMMAND)
    flags = dict(option.removeprefix("--").split("=") for option in options.split())
    names = {"interval": "interval", "timeout": "timeout", "start-period": "startPeriod"}
    assert {names[k]: int(v.removesuffix("s")) for k, v in flags.items() if k in names} | {
        "retries": int(flags["retries"])
    } == dict(HEALTH_CHECK_TIMINGS_S)


def test_docker_build_context_leaves_out_tests_infra_and_the_local_mode() -> None:
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "everything is excluded first, then the few things the image needs"
    assert {r for r in rules if r.startswith("!")} == {"!requirements/consumer.txt", "!consumer/"}
    assert "consumer/local/" in rules


@pytest.mark.parametrize("lock", ["consumer.txt"])
def test_the_image_sandbox_holds_every_distribution_of_the_lock(lock: str, tmp_path: Path) -> None:
    site = _image_python_path(tmp_path)[1]
    installed = {
        path.name.split("-")[0].lower().replace("_", "-") for path in site.glob("*.dist-info")
    }
    assert installed == locked_names(lock)
