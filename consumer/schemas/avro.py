"""Avro record parts to JSON: a decoder built once per registered schema.

The body is Avro's binary encoding of one value of the writer's schema (Confluent's and Glue's
serializers both write it bare, after their header). fastavro reads it; the conversion built
from the schema (`avro_json`, where the JSON mapping is written out with its reasons) turns it
into JSON-ready values; msgspec writes the JSON.

Choices:
- Confluent references: `schema.references` maps each referenced subject to its schema text,
  each defining named types the schema uses by name. They are parsed first, in whatever order
  lets each find the names it needs.
- fastavro reads logical types' underlying values (the schema is parsed with each logicalType
  moved aside), so the JSON of a decimal or a timestamp is decided in one place, losslessly.
- A record is the whole body: bytes left over after the value are corruption, not padding.
- A recursive schema lets a small body nest deeply, and fastavro's compiled reader recurses on
  the C stack (about 5,000 levels crash the process). Bodies of a recursive schema longer than
  `_DEEPEST_COMPILED_READ_BYTES` (each level costs at least one byte) are read by fastavro's
  pure-Python reader instead, whose recursion ends in RecursionError: undecodable, not a crash.
  So a recursive value can nest about 150 levels deep; deeper ones are undecodable.

Known limit: an array whose items take no bytes (null, or a record without fields) can declare
2^63 items in a few bytes, and fastavro would loop over them all; such schemas are rare.

Cost, for a record whose JSON is 1 KiB (11 fields: a long string, a nested record, an array, a
map, a union, a timestamp, a decimal): about 11 µs; fastavro's read 7, the conversion 2 (the
timestamp 1.3), msgspec's encoding 0.5. Letting fastavro convert logical types and msgspec
write them costs the same, and rounds or fails at the edges the conversion here keeps.

Invariants: `to_json` returns UTF-8 JSON or raises `UndecodableRecord` with a one-line reason
that names the problem and never the record's contents (the reader's exception is not chained,
so no traceback carries the bytes either); `avro_decoder` raises `UnusableSchema` for a schema
it cannot compile. Errors inside a value name its place in the schema (e.g. "ns.Order.placed").
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import fastavro
import msgspec
from fastavro._read_py import schemaless_reader as python_schemaless_reader
from fastavro.schema import UnknownType

from consumer.schemas.avro_json import Conversion, hide_logical_types, json_conversion
from consumer.schemas.model import RegisteredSchema, UndecodableRecord, UnusableSchema

# Below this many bytes a body cannot nest deeper than the compiled reader's C stack allows
# (a crash at about 5,000 levels with an 8 MiB stack; the margin covers threads' smaller ones).
_DEEPEST_COMPILED_READ_BYTES = 512


class AvroDecoder:
    """Reads bodies written with one Avro schema and writes each as JSON."""

    __slots__ = ("_compiled_reads_below", "_conversion", "_encode", "_schema")

    def __init__(self, parsed_schema: Any, conversion: Conversion | None, recursive: bool) -> None:
        self._schema = parsed_schema
        self._conversion = conversion
        self._compiled_reads_below = _DEEPEST_COMPILED_READ_BYTES if recursive else None
        self._encode = msgspec.json.Encoder().encode

    def to_json(self, body: bytes) -> bytes:
        stream = io.BytesIO(body)
        read = fastavro.schemaless_reader
        if self._compiled_reads_below is not None and len(body) >= self._compiled_reads_below:
            read = python_schemaless_reader
        try:
            datum = read(stream, self._schema, None, return_named_type=True)
        except Exception as error:  # any failure to read untrusted bytes is this record's fault
            raise UndecodableRecord(_read_failure(error)) from None
        left_over = len(body) - stream.tell()
        if left_over:
            raise UndecodableRecord(
                f"the Avro body has {left_over} bytes left over after the value its schema"
                " describes: corrupt, or written with another schema"
            )
        try:
            if self._conversion is not None:
                datum = self._conversion(datum)
            return self._encode(datum)
        except RecursionError:
            raise UndecodableRecord("the Avro value nests too deeply to write as JSON") from None


def _read_failure(error: Exception) -> str:
    if isinstance(error, EOFError):
        return "the Avro body ends early: shorter than its schema needs (truncated?)"
    if isinstance(error, IndexError):
        return "the Avro body has a union branch or enum symbol index its schema does not have"
    if isinstance(error, UnicodeDecodeError):
        return "the Avro body has a string that is not valid UTF-8"
    if isinstance(error, RecursionError):
        return "the Avro body nests too deeply to read"
    return f"the Avro body does not fit its schema ({type(error).__name__})"


def avro_decoder(schema: RegisteredSchema) -> AvroDecoder:
    """A decoder for bodies written with `schema` (and the named types of its references)."""
    named_types: dict[str, Any] = {}
    _parse_references(schema.references, named_types)
    parsed = _parse(_schema_json(schema.text, "the schema"), named_types, "the schema")
    conversion = json_conversion(parsed, named_types)
    return AvroDecoder(parsed, conversion.convert, conversion.recursive)


def _parse_references(references: Mapping[str, str], named_types: dict[str, Any]) -> None:
    pending = {
        name: _schema_json(text, f"the reference {name!r}") for name, text in references.items()
    }
    while pending:
        parsed_some = False
        for name, reference in list(pending.items()):
            attempt = dict(named_types)  # a parse that fails halfway leaves no names behind
            try:
                _parse(reference, attempt, f"the reference {name!r}", unknown_is_fatal=False)
            except UnknownType:
                continue  # it names a type another reference defines: try after that one
            named_types.update(attempt)
            del pending[name]
            parsed_some = True
        if not parsed_some:
            raise UnusableSchema(
                f"the Avro references {sorted(pending)} use named types that no reference defines"
            )


def _schema_json(text: str, what: str) -> Any:
    try:
        return hide_logical_types(json.loads(text))
    except ValueError as error:
        raise UnusableSchema(f"{what} is not JSON, so not an Avro schema ({error})") from None


def _parse(
    schema: Any, named_types: dict[str, Any], what: str, *, unknown_is_fatal: bool = True
) -> Any:
    try:
        return fastavro.parse_schema(schema, named_schemas=named_types)
    except UnknownType as error:
        if not unknown_is_fatal:
            raise
        name = error.name.get("type") if isinstance(error.name, dict) else error.name
        raise UnusableSchema(f"{what} uses the Avro type {name!r}, defined nowhere") from None
    except KeyError as error:
        raise UnusableSchema(
            f"{what} is not a valid Avro schema: a type lacks its {error.args[0]!r} attribute"
        ) from None
    except Exception as error:  # fastavro raises several types for a malformed schema
        reason = " ".join(str(error).split())[:200]
        raise UnusableSchema(f"{what} is not a valid Avro schema: {reason}") from None
