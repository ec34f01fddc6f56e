"""Wire formats: Confluent's and Glue's headers, built byte by byte here (and by the
producers' own libraries), split into schema id and body; anything else is one FramingError."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from collections.abc import Callable

import pytest
from aws_schema_registry import codec as glue_codec
from confluent_kafka.schema_registry.common.serde import SchemaId
from hypothesis import given
from hypothesis import strategies as st

from consumer.schemas.framing import (
    ConfluentFrame,
    GlueFrame,
    confluent_frame,
    glue_frame,
    read_message_indexes,
)
from consumer.schemas.model import FramingError

SECRET = b"card 4111-1111"  # a body's contents, which no reason may repeat

GLUE_ID_TEXT = "b7b4a7f0-9c1e-4d5e-8f3a-2c9d1e0f4a6b"
GLUE_ID_BYTES = bytes.fromhex("b7b4a7f09c1e4d5e8f3a2c9d1e0f4a6b")


# Confluent


def test_confluent_header_gives_big_endian_schema_id_and_body() -> None:
    data = bytes([0, 0x00, 0x01, 0x86, 0xA0]) + b'{"a": 1}'
    assert confluent_frame(data) == ConfluentFrame(schema_id=100_000, body=b'{"a": 1}')


def test_confluent_schema_id_is_unsigned() -> None:
    assert confluent_frame(bytes([0, 0xFF, 0xFF, 0xFF, 0xFF])).schema_id == 2**32 - 1


def test_confluent_header_alone_has_an_empty_body() -> None:
    assert confluent_frame(bytes([0, 0, 0, 0, 7])) == ConfluentFrame(7, b"")


@given(schema_id=st.integers(0, 2**32 - 1), body=st.binary(max_size=64))
def test_confluent_frame_round_trips_the_serializers_header(schema_id: int, body: bytes) -> None:
    data = struct.pack(">bI", 0, schema_id) + body  # as Confluent's Python serializer packs it
    assert confluent_frame(data) == ConfluentFrame(schema_id, body)


def test_empty_part_is_a_framing_error() -> None:
    with pytest.raises(FramingError, match="empty"):
        confluent_frame(b"")


def test_wrong_magic_byte_is_named_and_the_contents_are_not() -> None:
    with pytest.raises(FramingError) as raised:
        confluent_frame(b"{" + SECRET)
    assert "first byte is 123" in raised.value.reason
    assert "card" not in raised.value.reason


def test_confluent_header_cut_short_is_a_framing_error() -> None:
    with pytest.raises(FramingError, match="3 bytes: shorter than Confluent's 5-byte header"):
        confluent_frame(bytes([0, 0, 1]))


def frame_or_error(split: Callable[[bytes], object], data: bytes) -> object:
    try:
        return split(data)
    except FramingError as error:
        return error


@given(st.binary(max_size=40))
def test_any_bytes_give_a_confluent_frame_or_a_framing_error(data: bytes) -> None:
    outcome = frame_or_error(confluent_frame, data)
    if isinstance(outcome, FramingError):
        assert "\n" not in outcome.reason
    else:
        assert outcome == ConfluentFrame(int.from_bytes(data[1:5], "big"), data[5:])


# Protobuf message indexes


@pytest.mark.parametrize(
    ("encoded", "indexes"),
    [
        (b"\x00", (0,)),  # Confluent's shortcut for the first message
        (b"\x02\x00", (0,)),  # the same, written out in full
        (b"\x02\x02", (1,)),
        (b"\x04\x00\x04", (0, 2)),
        (b"\x02\xd8\x04", (300,)),  # zigzag 600, a two-byte varint
    ],
)
def test_message_indexes_are_zigzag_varints_after_a_count(
    encoded: bytes, indexes: tuple[int, ...]
) -> None:
    assert read_message_indexes(encoded + b"\x08\x96\x01") == (indexes, b"\x08\x96\x01")


@given(
    indexes=st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=8),
    message=st.binary(max_size=16),
)
def test_message_indexes_read_what_confluents_serializer_writes(
    indexes: list[int], message: bytes
) -> None:
    buffer = io.BytesIO()
    SchemaId._encode_varints(buffer, indexes, zigzag=True)
    assert read_message_indexes(buffer.getvalue() + message) == (tuple(indexes), message)


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        (b"", "end early"),
        (b"\x04\x00", "end early"),
        (b"\x80", "end early"),
        (b"\x01\x00", "count is -1, negative"),
        (b"\x02\x01", "index is -1, negative"),
        (b"\xff\xff\xff\xff\xff\x01", "longer than 5 bytes"),
        (b"\xff\xff\xff\xff\x7f", "beyond 32 bits"),
    ],
)
def test_malformed_message_indexes_are_framing_errors(encoded: bytes, reason: str) -> None:
    with pytest.raises(FramingError, match=reason):
        read_message_indexes(encoded)


@given(st.binary(max_size=24))
def test_any_bytes_give_message_indexes_or_a_framing_error(body: bytes) -> None:
    try:
        indexes, rest = read_message_indexes(body)
    except FramingError:
        return
    assert indexes
    assert all(index >= 0 for index in indexes)
    assert body.endswith(rest)


# Glue


def test_glue_header_gives_the_schema_version_uuid_and_body() -> None:
    data = bytes([3, 0]) + GLUE_ID_BYTES + b"\x02\x06abc"
    assert glue_frame(data) == GlueFrame(uuid.UUID(GLUE_ID_TEXT), b"\x02\x06abc")


def test_glue_zlib_body_is_inflated() -> None:
    body = b"an avro body " * 50
    data = bytes([3, 5]) + GLUE_ID_BYTES + zlib.compress(body)
    assert glue_frame(data) == GlueFrame(uuid.UUID(GLUE_ID_TEXT), body)


@given(version_id=st.uuids(), body=st.binary(max_size=256), compressed=st.booleans())
def test_glue_frame_reads_what_the_glue_serializer_writes(
    version_id: uuid.UUID, body: bytes, compressed: bool
) -> None:
    data = glue_codec.encode(body, version_id, compression=compressed)
    assert glue_frame(data) == GlueFrame(version_id, body)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (bytes([0, 0, 0, 0, 1]) + SECRET, "first byte is 0, not the Glue"),
        (bytes([3, 0]) + GLUE_ID_BYTES[:10], "12 bytes: shorter than the Glue"),
        (bytes([3, 1]) + GLUE_ID_BYTES + SECRET, "compression byte is 1"),
        (bytes([3, 5]) + GLUE_ID_BYTES + SECRET, "not a valid zlib stream"),
        (bytes([3, 5]) + GLUE_ID_BYTES, "ends early"),
        (bytes([3, 5]) + GLUE_ID_BYTES + zlib.compress(SECRET)[:-3], "ends early"),
        (bytes([3, 5]) + GLUE_ID_BYTES + zlib.compress(SECRET) + b"xy", "2 bytes after the end"),
    ],
)
def test_malformed_glue_parts_are_framing_errors_that_do_not_repeat_the_contents(
    data: bytes, reason: str
) -> None:
    with pytest.raises(FramingError, match=reason) as raised:
        glue_frame(data)
    assert "card" not in raised.value.reason


def test_glue_body_inflating_past_the_bound_is_refused() -> None:
    bomb = zlib.compress(bytes(10_000_000))  # about 10 KB that inflate to 10 MB
    with pytest.raises(FramingError, match="inflates past 1000000 bytes"):
        glue_frame(bytes([3, 5]) + GLUE_ID_BYTES + bomb, max_body_bytes=1_000_000)


def test_glue_body_exactly_at_the_bound_is_accepted() -> None:
    body = bytes(1000)
    data = bytes([3, 5]) + GLUE_ID_BYTES + zlib.compress(body)
    assert glue_frame(data, max_body_bytes=1000).body == body
    with pytest.raises(FramingError):
        glue_frame(data, max_body_bytes=999)


@given(st.binary(max_size=40))
def test_any_bytes_give_a_glue_frame_or_a_framing_error(data: bytes) -> None:
    outcome = frame_or_error(glue_frame, data)
    if isinstance(outcome, FramingError):
        assert "\n" not in outcome.reason
    else:
        assert isinstance(outcome, GlueFrame)


@given(st.binary(max_size=60))
def test_any_zlib_flagged_body_inflates_or_is_a_framing_error(compressed: bytes) -> None:
    data = bytes([3, 5]) + GLUE_ID_BYTES + compressed
    outcome = frame_or_error(lambda data: glue_frame(data, max_body_bytes=4096), data)
    assert isinstance(outcome, (GlueFrame, FramingError))
