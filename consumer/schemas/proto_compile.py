"""A registry's Protobuf schema (`.proto` text and the texts it imports) compiled at run time.

`compile_proto(schema)` runs protoc in-process (grpcio-tools' bundled compiler, the same one
`python -m grpc_tools.protoc` runs) on the texts written to a temporary directory, reads the
`FileDescriptorSet` it writes, and loads it into a `DescriptorPool` of its own.

Choices:
- protoc, not a pure-Python `.proto` parser: it is the reference grammar (proto2, proto3,
  editions, options, extensions) and its errors are the ones users know; a parser such as
  `proto-schema-parser` gives a syntax tree, not descriptors, leaving name resolution, map
  entries, oneofs and imports to be rebuilt by hand, where decoding bugs would hide.
- `grpc_tools._protoc_compiler.run_main`, not `grpc_tools.protoc.main` (a two-line wrapper
  of it): importing `grpc_tools.protoc` appends an import hook to `sys.meta_path` and the
  bundled `.proto` directory to `sys.path` for the whole process. Neither imports `grpc`,
  `setuptools` or `pkg_resources`.
- A fresh pool per schema: two versions of a schema define the same full names, and one
  shared pool would refuse the second (or, worse, decode with the first).
- Well-known types (`google/protobuf/*.proto`) always come from grpcio-tools' bundled copies
  (or, for a serialized schema, the runtime's own descriptors), even when a registry lists
  them among the references: those copies match the runtime's.
- Two forms of schema: `.proto` text, and the "serialized" form registries also accept, a
  base64 `FileDescriptorProto` (what Confluent's Python serializer registers). The serialized
  form needs no compiling; its imports may come in either form.

Invariants: the process's file descriptors and `sys.path` are as they were after a call;
protoc's messages reach `UnusableSchema` as one line and never the process's stderr.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath

import grpc_tools._protoc_compiler as protoc_compiler  # type: ignore[import-untyped]
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import DecodeError

from consumer.schemas.model import RegisteredSchema, UnusableSchema

ROOT_FILE_NAME = "registered_schema.proto"  # the schema's own text; references keep theirs
WELL_KNOWN_PREFIX = "google/protobuf/"
MAX_REASON_CHARS = 300
MAX_IMPORT_DEPTH = 32  # imports of imports: a cycle is a broken schema, not a hang
_LOG_LINE = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl")

_WELL_KNOWN_INCLUDE = str(resources.files("grpc_tools") / "_proto")
# protoc writes its messages to file descriptor 2, so a call borrows that descriptor; one
# call at a time. protoc runs holding the GIL, so no Python thread writes to stderr meanwhile.
_STDERR_LOCK = threading.Lock()


@dataclass(frozen=True)
class CompiledProto:
    """The schema's file, its imports loaded beside it in a pool no other schema shares."""

    pool: DescriptorPool
    file: FileDescriptor


def compile_proto(schema: RegisteredSchema) -> CompiledProto:
    """Raises UnusableSchema (one line, protoc's own words) if the texts do not compile."""
    serialized = _serialized_file(schema.text)
    if serialized is not None:
        return _load_serialized(serialized, schema.references)
    return _load(_compile_texts(schema.text, schema.references))


def _compile_texts(text: str, references: Mapping[str, str]) -> descriptor_pb2.FileDescriptorSet:
    with tempfile.TemporaryDirectory(prefix="proto-") as work:
        work_dir = Path(work)
        root_dir, imports_dir = work_dir / "root", work_dir / "imports"
        root_dir.mkdir()
        imports_dir.mkdir()
        (root_dir / ROOT_FILE_NAME).write_text(text, encoding="utf-8")
        _write_references(imports_dir, references)
        descriptor_set_path = work_dir / "descriptor_set.pb"
        exit_code, messages = _run_protoc(
            [
                "protoc",
                f"--proto_path={root_dir}",
                f"--proto_path={imports_dir}",
                f"--proto_path={_WELL_KNOWN_INCLUDE}",
                "--include_imports",
                f"--descriptor_set_out={descriptor_set_path}",
                str(root_dir / ROOT_FILE_NAME),
            ]
        )
        if exit_code != 0:
            raise UnusableSchema(_one_line(messages, work_dir) or "protoc failed without a message")
        return descriptor_pb2.FileDescriptorSet.FromString(descriptor_set_path.read_bytes())


def _serialized_file(text: str) -> descriptor_pb2.FileDescriptorProto | None:
    """The schema as a base64 `FileDescriptorProto`, the registries' "serialized" form (what
    Confluent's Python serializer registers); None if it is `.proto` text."""
    try:
        data = base64.b64decode(text.strip(), validate=True)
        parsed = descriptor_pb2.FileDescriptorProto.FromString(data)
    except (binascii.Error, ValueError, DecodeError):
        return None
    return parsed if parsed.name else None


def _load_serialized(
    root: descriptor_pb2.FileDescriptorProto, references: Mapping[str, str]
) -> CompiledProto:
    """The serialized file and what it imports: well-known types from the runtime's own
    descriptors, other imports from the references (serialized or `.proto` text)."""
    ordered: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def add(file_proto: descriptor_pb2.FileDescriptorProto, depth: int) -> None:
        if depth > MAX_IMPORT_DEPTH:
            raise UnusableSchema(f"imports nest deeper than {MAX_IMPORT_DEPTH}")
        for dependency in file_proto.dependency:
            if dependency not in ordered:
                for imported in _imported_files(dependency, references):
                    add(imported, depth + 1)
        ordered.setdefault(file_proto.name, file_proto)

    add(root, 0)
    pool = _pool_of(ordered.values())
    return CompiledProto(pool=pool, file=pool.FindFileByName(root.name))


def _imported_files(
    name: str, references: Mapping[str, str]
) -> list[descriptor_pb2.FileDescriptorProto]:
    if name.startswith(WELL_KNOWN_PREFIX):
        module = "google.protobuf." + PurePosixPath(name).stem + "_pb2"
        try:
            importlib.import_module(module)  # registers the file in the default pool
            file = descriptor_pool.Default().FindFileByName(name)
        except (ImportError, KeyError):
            raise UnusableSchema(
                f"import {name!r} is not a well-known type this runtime has"
            ) from None
        copy = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(copy)
        return [copy]
    text = references.get(name)
    if text is None:
        raise UnusableSchema(f"import {name!r} is not among the schema's references")
    serialized = _serialized_file(text)
    if serialized is not None:
        serialized.name = name  # imported by this name, whatever it was registered as
        return [serialized]
    compiled = _compile_texts(text, references)
    files = list(compiled.file)
    files[-1].name = name  # protoc writes the root last, under its working name
    return files


def _write_references(imports_dir: Path, references: Mapping[str, str]) -> None:
    for name, text in references.items():
        if name.startswith(WELL_KNOWN_PREFIX):
            continue
        import_path = PurePosixPath(name)
        if import_path.is_absolute() or ".." in import_path.parts or not import_path.parts:
            raise UnusableSchema(f"reference {name!r} is not a relative import path")
        path = imports_dir.joinpath(*import_path.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _run_protoc(arguments: list[str]) -> tuple[int, str]:
    """protoc's exit code and what it wrote to stderr (errors and warnings)."""
    with _STDERR_LOCK, tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved_stderr = os.dup(2)
        try:
            os.dup2(captured.fileno(), 2)
            exit_code: int = protoc_compiler.run_main([argument.encode() for argument in arguments])
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
        captured.seek(0)
        return exit_code, captured.read().decode("utf-8", errors="replace")


def _one_line(messages: str, work_dir: Path) -> str:
    """protoc's errors with the temporary paths taken out, joined into one short line."""
    for directory in ("root", "imports"):
        messages = messages.replace(f"{work_dir / directory}{os.sep}", "")
    lines = [line.strip() for line in messages.splitlines() if line.strip()]
    errors = [line for line in lines if not _is_warning(line)] or lines
    line = "; ".join(errors)
    return line if len(line) <= MAX_REASON_CHARS else line[: MAX_REASON_CHARS - 1] + "…"


def _is_warning(line: str) -> bool:
    # protoc's own warnings ("file:1:2: warning: ..."), and the logging library's lines
    # ("W0000 00:00:... parser.cc:614] ...", and its notice that it logs to stderr).
    return ": warning:" in line or bool(_LOG_LINE.match(line))


def _load(file_set: descriptor_pb2.FileDescriptorSet) -> CompiledProto:
    pool = _pool_of(file_set.file)  # protoc writes each file after the files it imports
    return CompiledProto(pool=pool, file=pool.FindFileByName(ROOT_FILE_NAME))


def _pool_of(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> DescriptorPool:
    pool = DescriptorPool()
    for file_proto in files:
        try:
            pool.Add(file_proto)
        except (TypeError, ValueError) as error:
            # protoc and the Python runtime are released apart; a feature one knows and the
            # other does not (a newer edition) must not escape as a crash.
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise UnusableSchema(
                f"the Protobuf runtime refuses {file_proto.name} as compiled: {detail}"
            ) from None
    return pool
