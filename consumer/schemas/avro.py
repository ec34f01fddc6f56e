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

- An array or map whose items can take no bytes (null, a record without fields) lets 15 bytes
  claim 2^62 items, and a reader would loop until memory runs out (avro_sizes.py finds such
  schemas). Bodies of those schemas, and of recursive ones past the compiled reader's depth,
  are read by a bounded reader: fastavro's pure-Python reader with a decoder that counts the
  items every block claims, at most the body's length (an item that takes bytes cannot be more
  numerous) plus `MAX_ITEMS_OF_NO_BYTES`, and bodies of at most `MAX_BOUNDED_READ_BYTES`, so
  that no record holds the event loop for more than about 100 ms (measured: 64 KiB of longs,
  about 40 ms on the benchmark machine). Beyond either bound the record is undecodable.

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
from collections.abc import Iterator, Mapping
from typing import Any

import fastavro
import msgspec
from fastavro._read_py import read_data
from fastavro.io.binary_decoder import BinaryDecoder
from fastavro.schema import UnknownType

from consumer.schemas.avro_json import Conversion, hide_logical_types, json_conversion
from consumer.schemas.avro_sizes import has_items_of_no_bytes
from consumer.schemas.model import RegisteredSchema, UndecodableRecord, UnusableSchema

# Below this many bytes a body cannot nest deeper than the compiled reader's C stack allows
# (a crash at about 5,000 levels with an 8 MiB stack; the margin covers threads' smaller ones).
_DEEPEST_COMPILED_READ_BYTES = 512
# The bounded reader's limits (see the module's docstring).
MAX_BOUNDED_READ_BYTES = 64 * 1024
MAX_ITEMS_OF_NO_BYTES = 10_000
_READ_OPTIONS = {
    "return_record_name": False,
    "return_record_name_override": False,
    "handle_unicode_errors": "strict",
    "return_named_type": True,
    "return_named_type_override": False,
}


class AvroDecoder:
    """Reads bodies written with one Avro schema and writes each as JSON."""

    __slots__ = ("_compiled_reads_below", "_conversion", "_encode", "_named_types", "_schema")

    def __init__(
        self,
        parsed_schema: Any,
        conversion: Conversion | None,
        recursive: bool,
        named_types: dict[str, Any] | None = None,
        items_of_no_bytes: bool = False,
    ) -> None:
        self._schema = parsed_schema
        self._conversion = conversion
        # Bodies from this length on go to the bounded reader (None: none does).
        self._compiled_reads_below: int | None = None
        if recursive:
            self._compiled_reads_below = _DEEPEST_COMPILED_READ_BYTES
        if items_of_no_bytes:
            self._compiled_reads_below = 0
        self._named_types = {} if named_types is None else named_types
        self._encode = msgspec.json.Encoder().encode

    def to_json(self, body: bytes) -> bytes:
        stream = io.BytesIO(body)
        bounded = self._compiled_reads_below
        try:
            if bounded is not None and len(body) >= bounded:
                datum = self._bounded_read(stream, len(body))
            else:
                datum = fastavro.schemaless_reader(stream, self._schema, return_named_type=True)
        except UndecodableRecord:
            raise
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

    def _bounded_read(self, stream: io.BytesIO, size: int) -> Any:
        if size > MAX_BOUNDED_READ_BYTES:
            raise UndecodableRecord(
                f"the Avro body is {size:,} bytes; a schema that is recursive or has arrays of "
                f"items that take no bytes is read by the bounded reader, which takes at most "
                f"{MAX_BOUNDED_READ_BYTES:,}"
            )
        decoder = _CountingDecoder(stream, size + MAX_ITEMS_OF_NO_BYTES)
        named = {"writer": self._named_types, "reader": {}}
        return read_data(decoder, self._schema, named, None, _READ_OPTIONS)  # type: ignore[no-untyped-call]


class _CountingDecoder(BinaryDecoder):
    """fastavro's decoder, counting the items the blocks of arrays and maps claim."""

    def __init__(self, stream: io.BytesIO, max_items: int) -> None:
        super().__init__(stream)  # type: ignore[no-untyped-call]  # fastavro's is untyped
        self._items_left = max_items

    def _iter_array_or_map(self) -> Iterator[None]:
        # As fastavro's, with the count checked before a block's items are looped over.
        while self._block_count != 0:
            if self._block_count < 0:
                self._block_count = -self._block_count
                self.read_long()  # type: ignore[no-untyped-call]  # the block's size: unused
            self._items_left -= self._block_count
            if self._items_left < 0:
                raise UndecodableRecord(
                    f"the Avro body's arrays and maps claim more items than its bytes could "
                    f"hold, past {MAX_ITEMS_OF_NO_BYTES:,} that take no bytes"
                )
            for _ in range(self._block_count):
                yield None
            self._block_count = self.read_long()  # type: ignore[no-untyped-call]

    iter_array = _iter_array_or_map
    iter_map = _iter_array_or_map


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
    return AvroDecoder(
        parsed,
        conversion.convert,
        conversion.recursive,
        named_types,
        has_items_of_no_bytes(parsed, named_types),
    )


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
