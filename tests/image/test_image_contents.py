"""What the built image holds: the bridge and its dependencies, and neither pip, setuptools
(pkg_resources) nor wheel, for the bridge's Python or the base's; its configuration is the
Dockerfile's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.container import CONTAINER_USER, HEALTH_CHECK_COMMAND, TMP_PATH
from tests.support.image_run import run_image
from tests.support.podman import podman

# The bridge's interpreter (/opt/bridge, first on PATH) and the base image's own.
PYTHONS = ["python", "/usr/local/bin/python3"]
PACKAGING_TOOLS = ["pip", "setuptools", "pkg_resources", "wheel", "_distutils_hack"]

FIND_IMPORTABLE = """
import importlib.util, json, sys
print(json.dumps([name for name in sys.argv[1:] if importlib.util.find_spec(name)]))
"""

# Every module of the bridge imported, and a Protobuf schema compiled by grpcio-tools' protoc
# (which declares setuptools) with a well-known type from its bundled .proto files.
IMPORT_THE_BRIDGE = """
import importlib, json, pkgutil
import consumer
from consumer.schemas.model import RegisteredSchema, SchemaFormat
from consumer.schemas.proto_compile import compile_proto

modules = [m.name for m in pkgutil.walk_packages(consumer.__path__, "consumer.")]
for name in modules:
    importlib.import_module(name)
text = 'syntax = "proto3"; import "google/protobuf/timestamp.proto"; ' \\
    'message Order { string id = 1; google.protobuf.Timestamp at = 2; }'
compiled = compile_proto(RegisteredSchema(SchemaFormat.PROTOBUF, text))
order = compiled.file.message_types_by_name["Order"]
print(json.dumps({"modules": modules, "message": order.full_name}))
"""


@pytest.mark.parametrize("python", PYTHONS)
async def test_no_python_in_the_image_can_import_pip_setuptools_or_wheel(
    image: str, tmp_volume: tuple[str, Path], python: str
) -> None:
    code, output = await run_image(
        image, tmp_volume[0], {}, python, "-c", FIND_IMPORTABLE, *PACKAGING_TOOLS
    )
    assert code == 0, output
    assert json.loads(output.splitlines()[-1]) == []


async def test_the_check_finds_a_module_the_image_has(
    image: str, tmp_volume: tuple[str, Path]
) -> None:
    # The check above means something only if it reports what is there.
    code, output = await run_image(
        image, tmp_volume[0], {}, "python", "-c", FIND_IMPORTABLE, "aiokafka", "pulumi"
    )
    assert code == 0, output
    assert json.loads(output.splitlines()[-1]) == ["aiokafka"]


async def test_every_module_of_the_bridge_imports_and_protoc_compiles_in_the_image(
    image: str, tmp_volume: tuple[str, Path]
) -> None:
    code, output = await run_image(image, tmp_volume[0], {}, "python", "-c", IMPORT_THE_BRIDGE)
    assert code == 0, output
    result = json.loads(output.splitlines()[-1])
    assert {"consumer.bridge", "consumer.health", "consumer.schemas.proto_compile"} <= set(
        result["modules"]
    )
    assert not [name for name in result["modules"] if name.startswith("consumer.local")]
    assert result["message"] == "Order"


def test_the_image_keeps_the_dockerfiles_user_volume_and_health_check(image: str) -> None:
    """Built in Docker's format: podman's own would drop HEALTHCHECK."""
    (inspected,) = json.loads(podman("image", "inspect", image))
    assert inspected["Config"]["User"] == CONTAINER_USER
    assert list(inspected["Config"]["Volumes"]) == [TMP_PATH]
    assert inspected["Healthcheck"]["Test"] == ["CMD", *HEALTH_CHECK_COMMAND]
