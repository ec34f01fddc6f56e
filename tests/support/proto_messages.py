"""Protobuf message classes from .proto source text, compiled at run time for the tests.

protoc (from grpcio-tools) compiles the given files with their imports — other files given
by name, and the well-known types (`google/protobuf/timestamp.proto`, …) that grpcio-tools
ships — into a descriptor set; the classes are made from it in a descriptor pool of their
own, so two tests may define the same file or message name differently.

    classes = compile_proto_messages({"shop/money.proto": MONEY, "shop/order.proto": ORDER})
    order = classes["shop.Order"](id="o-1")
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path, PurePosixPath

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

WELL_KNOWN_TYPES_DIR = Path(str(resources.files("grpc_tools") / "_proto"))


class ProtoCompileError(ValueError):
    """protoc rejected the sources; the message is protoc's own."""


def compile_proto_messages(sources: Mapping[str, str]) -> dict[str, type[Message]]:
    """Message classes of every message the `sources` define (nested ones too), by full name.

    `sources` maps a file name as imports spell it (`"shop/money.proto"`) to its text.
    """
    with tempfile.TemporaryDirectory(prefix="protos-") as scratch:
        source_root = Path(scratch) / "src"
        for name, text in sources.items():
            relative = PurePosixPath(name)
            if relative.is_absolute() or ".." in relative.parts:
                raise ProtoCompileError(f"{name!r}: give a relative file name, as imports spell it")
            path = source_root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        descriptor_set = Path(scratch) / "descriptors.pb"
        compiled = subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"--proto_path={source_root}",
                f"--proto_path={WELL_KNOWN_TYPES_DIR}",
                f"--descriptor_set_out={descriptor_set}",
                "--include_imports",
                *sources,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if compiled.returncode != 0:
            raise ProtoCompileError(compiled.stderr.strip() or f"protoc exit {compiled.returncode}")
        files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())

    pool = descriptor_pool.DescriptorPool()
    for file_proto in files.file:  # with --include_imports, dependencies come first
        pool.Add(file_proto)
    classes: dict[str, type[Message]] = {}
    for name in sources:
        for message_type in pool.FindFileByName(name).message_types_by_name.values():
            for descriptor in _with_nested(message_type):
                classes[descriptor.full_name] = message_factory.GetMessageClass(descriptor)
    return classes


def _with_nested(message_type: Descriptor) -> Iterator[Descriptor]:
    yield message_type
    for nested in message_type.nested_types:
        if not nested.GetOptions().map_entry:  # map fields' entries are not messages to build
            yield from _with_nested(nested)
