"""Protobuf record bodies decoded to JSON, from the registry's `.proto` schema.

    decoder = protobuf_decoder(schema)                  # Confluent: message indexes, then bytes
    decoder = protobuf_decoder(schema, framing="glue")  # Glue: one message index, then bytes
    decoder.to_json(body)  # b'{"order_id":"o-1","placed_at":"2024-05-01T12:00:00Z",...}'

`body` is what follows the registry's header (Confluent's magic byte and schema id; Glue's
version, compression byte and schema version UUID, decompressed). Both registries' serializers
then write which message of the `.proto` file the record is, because a file may define several:

- Confluent: a list of zigzag varints, its length first; `[0]` (the first top-level message,
  the common case) is written as the single byte 0. `[i, j]` is the j-th message nested in
  the i-th top-level one. Indexes count declared messages only (enums and map-entry types
  are skipped), as Confluent's Java serde, the reference, does (`ProtobufSchema.
  toMessageName`); its Python and Go serdes count map-entry types too, so they disagree on a
  nested message declared after a `map` field of its parent. Records whose index list
  cannot be read are `FramingError`s (`framing.read_message_indexes`).
- Glue (`aws-glue-schema-registry`, `ProtobufWireFormatEncoder` and `MessageIndexFinder`):
  one plain (not zigzag) varint, the position of the message in the file's messages, nested
  ones and map-entry types included, sorted by full name. An index that cannot be read is
  a `FramingError` too.

JSON: Lambda's trigger documents only that EventRecordFormat=JSON delivers "a standard JSON
object", not how it maps Protobuf; Powertools for AWS Lambda (Python) hands a function a
Protobuf record as `json_format.MessageToDict(message, preserving_proto_field_name=True)`.
This decoder writes that dict (the proto3 JSON mapping, field names as declared), so a
function reading records through Powertools and one reading this bridge's JSON see the same:
- field names as in the `.proto` (`order_id`, not the lowerCamelCase `orderId`): the names
  the schema's readers know, and the ones a filter pattern on the value is written with;
- fields that are unset or hold their default (proto3, no presence) are left out; a field
  with presence (proto2 `optional`, proto3 `optional`, message fields, oneof members) is
  written when set, even to its default;
- 64-bit integers as JSON strings (`"9007199254740993"`), which JavaScript and other
  double-based parsers read without losing digits; 32-bit integers as numbers;
- enums by value name; a number that the enum does not name (a newer schema's value) as the
  number;
- bytes as standard base64; float and double NaN and infinities as "NaN", "Infinity",
  "-Infinity";
- well-known types by their JSON forms: Timestamp as RFC 3339 in UTC ("Z"), Duration as
  seconds ("90.500s"), Struct/Value/ListValue as the JSON they hold, wrappers as their value,
  FieldMask as a comma-separated camelCase path list, Any as its message with "@type" (the
  packed type must be one the schema's files define, or the record is undecodable);
- unknown fields (written by a newer schema) are skipped, as schema evolution expects.

Errors: a body that is not the message (truncated, an invalid wire type, a string that is
not UTF-8, a proto2 required field missing), an index naming no message, a well-known value
with no JSON form: `UndecodableRecord` whose reason names the message type and the fault,
never the record's contents. A field whose wire type does not match its declaration is
kept as an unknown field, as every protobuf parser does, and so left out of the JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from consumer.schemas.framing import read_message_indexes
from consumer.schemas.model import (
    FramingError,
    RegisteredSchema,
    SchemaFormat,
    UndecodableRecord,
    UnusableSchema,
)
from consumer.schemas.proto_compile import CompiledProto, compile_proto
from consumer.schemas.proto_json import Converter, ProtoJsonShaper

Framing = Literal["confluent", "glue"]
# A selected message's class, its JSON shaping, and whether it can lack a required field.
MessageType = tuple[type[Message], Converter, bool]

MAX_UINT32_VARINT_BYTES = 5

_encode_json = msgspec.json.Encoder().encode


class ProtobufDecoder:
    """One compiled schema file; `to_json` per record.

    Invariants: the pool holds only this schema's files; what `to_json` keeps (a message
    type per index, the shaper's table entries) is built on the first record that needs it
    and never changes after; records are decoded on one thread (the event loop's).
    """

    def __init__(self, compiled: CompiledProto, framing: Framing) -> None:
        top_level = list(compiled.file.message_types_by_name.values())
        if not top_level:
            raise UnusableSchema("the Protobuf schema defines no message")
        self._top_level: Sequence[Descriptor] = top_level
        self._shaper = ProtoJsonShaper(compiled.pool)
        self._select = self._confluent_message if framing == "confluent" else self._glue_message
        self._confluent_types: dict[tuple[int, ...], MessageType] = {}
        # Glue numbers every message of the file, by the file alone: fixed here.
        self._glue_order = _glue_message_order(top_level) if framing == "glue" else ()
        self._glue_types: dict[int, MessageType] = {}

    def to_json(self, body: bytes) -> bytes:
        (message_class, to_jsonable, may_lack_required), message_bytes = self._select(body)
        message = message_class()
        try:
            message.ParseFromString(message_bytes)
        except DecodeError:
            raise UndecodableRecord(
                f"the bytes are not a valid {message.DESCRIPTOR.full_name} message "
                "(truncated, or written with another schema)"
            ) from None
        if may_lack_required and not message.IsInitialized():
            # FindInitializationErrors: in the runtime's API, not in its type stubs.
            missing = message.FindInitializationErrors()  # type: ignore[attr-defined]
            raise UndecodableRecord(
                f"the {message.DESCRIPTOR.full_name} message lacks required fields: "
                + ", ".join(missing[:5])
            )
        return _encode_json(to_jsonable(message))

    def _confluent_message(self, body: bytes) -> tuple[MessageType, bytes]:
        indexes, message_bytes = read_message_indexes(body)
        message_type = self._confluent_types.get(indexes)
        if message_type is None:
            message_type = self._message_type(self._confluent_descriptor(indexes))
            self._confluent_types[indexes] = message_type
        return message_type, message_bytes

    def _confluent_descriptor(self, indexes: tuple[int, ...]) -> Descriptor:
        candidates, where = self._top_level, "top-level"
        for index in indexes:  # never empty: [0] is the shortest list
            if index >= len(candidates):
                raise UndecodableRecord(
                    f"message index {list(indexes)} names no message: the schema has "
                    f"{len(candidates)} {where}"
                )
            chosen = candidates[index]
            candidates = [
                nested for nested in chosen.nested_types if not nested.GetOptions().map_entry
            ]
            where = f"nested in {chosen.full_name}"
        return chosen

    def _glue_message(self, body: bytes) -> tuple[MessageType, bytes]:
        index, message_bytes = _read_glue_index(body)
        message_type = self._glue_types.get(index)
        if message_type is None:
            if index >= len(self._glue_order):
                raise UndecodableRecord(
                    f"message index {index} names no message: the schema has "
                    f"{len(self._glue_order)} messages"
                )
            message_type = self._message_type(self._glue_order[index])
            self._glue_types[index] = message_type
        return message_type, message_bytes

    def _message_type(self, descriptor: Descriptor) -> MessageType:
        return (
            GetMessageClass(descriptor),
            self._shaper.converter(descriptor),
            _may_lack_required(descriptor),
        )


def protobuf_decoder(schema: RegisteredSchema, framing: Framing = "confluent") -> ProtobufDecoder:
    """Compiles the schema (about 1 ms; once per schema id, the caller keeps the decoder).

    Raises UnusableSchema if the schema does not compile or defines no message.
    """
    if schema.format is not SchemaFormat.PROTOBUF:
        raise UnusableSchema(f"a {schema.format} schema given to the Protobuf decoder")
    if framing not in ("confluent", "glue"):
        raise ValueError(f"framing is {framing!r}: 'confluent' or 'glue'")
    return ProtobufDecoder(compile_proto(schema), framing)


def _glue_message_order(top_level: Sequence[Descriptor]) -> Sequence[Descriptor]:
    """Every message of the file, nested and map-entry types included, by full name."""
    found: list[Descriptor] = []
    pending = list(top_level)
    while pending:
        descriptor = pending.pop()
        found.append(descriptor)
        pending.extend(descriptor.nested_types)
    # Java sorts full names by UTF-16 code units: the same order as Python's for names,
    # which protoc allows only in ASCII.
    return sorted(found, key=lambda descriptor: descriptor.full_name)


def _may_lack_required(message_type: Descriptor) -> bool:
    """Whether a message of this type can lack a proto2 required field, in itself or in a
    message it holds; proto3 has none, and checking costs as much as parsing a small one."""
    seen: set[Descriptor] = set()
    pending = [message_type]
    while pending:
        descriptor = pending.pop()
        if descriptor in seen:
            continue
        seen.add(descriptor)
        if descriptor.extension_ranges:  # an extension could hold one: check each record
            return True
        for field in descriptor.fields:
            if field.is_required:
                return True
            if field.message_type is not None:
                pending.append(field.message_type)
    return False


def _read_glue_index(body: bytes) -> tuple[int, bytes]:
    """Glue's message index (CodedOutputStream.writeUInt32NoTag) and the bytes after it."""
    index = 0
    for position, shift in enumerate(range(0, 7 * MAX_UINT32_VARINT_BYTES, 7)):
        if position >= len(body):
            raise FramingError("Protobuf message index ends early: the body is truncated")
        byte = body[position]
        index |= (byte & 0x7F) << shift
        if byte < 0x80:
            if index > 0xFFFF_FFFF:
                raise FramingError("Protobuf message index is beyond 32 bits")
            return index, body[position + 1 :]
    raise FramingError(f"Protobuf message index is longer than {MAX_UINT32_VARINT_BYTES} bytes")
