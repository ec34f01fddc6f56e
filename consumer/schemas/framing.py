"""The registries' wire formats: the header before a record part's body that names its schema.

Confluent (what Confluent's serializers write; Lambda's trigger reads the same):

    byte 0      magic byte, 0
    bytes 1-4   schema id, a big-endian unsigned 32-bit integer
    bytes 5-    the body; for Protobuf it starts with the message-index list
                (`read_message_indexes`), then the message

AWS Glue Schema Registry, as the awslabs/aws-glue-schema-registry Java serde writes and reads it
(`AWSSchemaRegistryConstants`: HEADER_VERSION_BYTE = 3, COMPRESSION_DEFAULT_BYTE = 0,
COMPRESSION_BYTE = 5, SCHEMA_VERSION_ID_SIZE = 16; `SerializationDataEncoder.write` and
`GlueSchemaRegistryDeserializerDataParser`):

    byte 0      header version, 3
    byte 1      compression: 0 none, 5 zlib (java.util.zip Deflater/Inflater defaults: a zlib
                stream with its 2-byte header and Adler-32 trailer, not raw deflate)
    bytes 2-17  the schema version id, a UUID (most significant 8 bytes first)
    bytes 18-   the body, zlib-compressed when byte 1 is 5

Invariants: every function here returns a frame or raises `FramingError` (never another
exception, whatever the bytes); a reason names byte values and lengths, never the record's
contents. Stricter than the Java reader in one place: bytes after the end of a zlib stream are
an error here (Java's Inflater stops at the stream's end and ignores them).
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass

from consumer.schemas.model import FramingError

CONFLUENT_MAGIC_BYTE = 0
CONFLUENT_HEADER_BYTES = 5

GLUE_HEADER_VERSION_BYTE = 3
GLUE_COMPRESSION_NONE = 0
GLUE_COMPRESSION_ZLIB = 5
GLUE_HEADER_BYTES = 18  # version + compression + 16-byte UUID

# A decompressed body larger than a Lambda request (6 MiB) could never be delivered anyway.
DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024

# Kafka's ByteUtils.readVarint, which Confluent's MessageIndexes.readFrom uses: a zigzag
# varint of a 32-bit int, at most 5 bytes.
_MAX_VARINT_BYTES = 5


@dataclass(frozen=True, slots=True)
class ConfluentFrame:
    schema_id: int
    body: bytes


@dataclass(frozen=True, slots=True)
class GlueFrame:
    schema_version_id: uuid.UUID
    body: bytes  # decompressed when the record was compressed


def confluent_frame(data: bytes) -> ConfluentFrame:
    """Split a part in Confluent's wire format into its schema id and body."""
    if not data:
        raise FramingError("empty: no Confluent header (magic byte 0 and a 4-byte schema id)")
    if data[0] != CONFLUENT_MAGIC_BYTE:
        raise FramingError(
            f"first byte is {data[0]}, not Confluent's magic byte {CONFLUENT_MAGIC_BYTE}:"
            " not written by a schema-registry serializer"
        )
    if len(data) < CONFLUENT_HEADER_BYTES:
        raise FramingError(
            f"{len(data)} bytes: shorter than Confluent's {CONFLUENT_HEADER_BYTES}-byte header"
        )
    return ConfluentFrame(
        schema_id=int.from_bytes(data[1:CONFLUENT_HEADER_BYTES], "big"),
        body=data[CONFLUENT_HEADER_BYTES:],
    )


def read_message_indexes(body: bytes) -> tuple[tuple[int, ...], bytes]:
    """The Protobuf message-index list at the start of a Confluent body, and the bytes after it.

    Confluent's encoding (MessageIndexes in confluentinc/schema-registry): a zigzag varint
    count, then that many zigzag varint indexes (the path to the message type through the
    schema's nested messages); a count of 0 (the single byte 0) means [0], the first message.
    """
    count, position = _read_zigzag_varint(body, 0)
    if count == 0:
        return (0,), body[position:]
    if count < 0:
        raise FramingError(f"Protobuf message-index count is {count}, negative")
    indexes = []
    for _ in range(count):
        index, position = _read_zigzag_varint(body, position)
        if index < 0:
            raise FramingError(f"Protobuf message index is {index}, negative")
        indexes.append(index)
    return tuple(indexes), body[position:]


def _read_zigzag_varint(data: bytes, position: int) -> tuple[int, int]:
    """The zigzag-decoded varint at `position`, and the position after it."""
    unsigned = 0
    for shift in range(0, 7 * _MAX_VARINT_BYTES, 7):
        if position >= len(data):
            raise FramingError("Protobuf message indexes end early: the body is truncated")
        byte = data[position]
        position += 1
        unsigned |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if unsigned > 0xFFFF_FFFF:
                raise FramingError("Protobuf message-index varint is beyond 32 bits")
            return (unsigned >> 1) ^ -(unsigned & 1), position
    raise FramingError(f"Protobuf message-index varint is longer than {_MAX_VARINT_BYTES} bytes")


def glue_frame(data: bytes, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> GlueFrame:
    """Split a part in the Glue Schema Registry wire format into its schema version id and body.

    A zlib body is decompressed, and refused once it inflates past `max_body_bytes` (so a small
    record cannot inflate into gigabytes: a decompression bomb).
    """
    if not data:
        raise FramingError("empty: no Glue Schema Registry header (18 bytes)")
    if data[0] != GLUE_HEADER_VERSION_BYTE:
        raise FramingError(
            f"first byte is {data[0]}, not the Glue Schema Registry header version"
            f" {GLUE_HEADER_VERSION_BYTE}: not written by a Glue serializer"
        )
    if len(data) < GLUE_HEADER_BYTES:
        raise FramingError(
            f"{len(data)} bytes: shorter than the Glue Schema Registry's"
            f" {GLUE_HEADER_BYTES}-byte header"
        )
    compression = data[1]
    schema_version_id = uuid.UUID(bytes=data[2:GLUE_HEADER_BYTES])
    body = data[GLUE_HEADER_BYTES:]
    if compression == GLUE_COMPRESSION_NONE:
        return GlueFrame(schema_version_id, body)
    if compression == GLUE_COMPRESSION_ZLIB:
        return GlueFrame(schema_version_id, _inflate(body, max_body_bytes))
    raise FramingError(
        f"Glue compression byte is {compression}: neither {GLUE_COMPRESSION_NONE} (none)"
        f" nor {GLUE_COMPRESSION_ZLIB} (zlib)"
    )


def _inflate(compressed: bytes, max_body_bytes: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        # One byte over the bound tells "too big" apart from "exactly at the bound".
        body = inflater.decompress(compressed, max_body_bytes + 1)
    except zlib.error as error:
        raise FramingError(f"Glue body is not a valid zlib stream ({error})") from None
    if len(body) > max_body_bytes:
        raise FramingError(f"Glue body inflates past {max_body_bytes} bytes; refused")
    if not inflater.eof:
        raise FramingError("Glue zlib stream ends early: the body is truncated")
    if inflater.unused_data:
        raise FramingError(
            f"Glue body has {len(inflater.unused_data)} bytes after the end of its zlib stream"
        )
    return body
