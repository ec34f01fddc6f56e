"""Generated hostile records against every stage that reads one: deep, wide, huge counts,
truncated, not UTF-8 in every field. Each stage answers with the record, or with the reason it
cannot take it; none raises, so no record can stop the bridge (the suite with the real broker
is test_poison_records.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.filtering.patterns import compile_patterns
from consumer.filtering.record_filter import RecordFilter
from consumer.payloads.encoders import encoder_for
from consumer.pipeline.lanes import Lane
from consumer.records import KafkaRecord, UndecodedRecord
from consumer.schemas.avro import avro_decoder
from consumer.schemas.json_schema import json_schema_decoder
from consumer.schemas.model import RegisteredSchema, SchemaFormat, UndecodableRecord
from consumer.schemas.protobuf import protobuf_decoder
from consumer.settings.ordering import Ordering
from consumer.settings.payload_format import PayloadFormat
from tests.consumer.schemas.test_protobuf import zigzag_varint

NOT_UTF8 = st.binary(min_size=1, max_size=8).map(lambda b: b"\xff" + b)


def deep_json(depth: int, kind: str) -> bytes:
    opener, closer = ("[", "]") if kind == "array" else ('{"a":', "}")
    return (opener * depth + "1" + closer * depth).encode()


hostile_bytes = st.one_of(
    st.binary(max_size=64),
    NOT_UTF8,
    st.builds(deep_json, st.integers(1, 6000), st.sampled_from(["array", "object"])),
    st.integers(0, 2000).map(lambda n: b"[" + b"1," * n + b"1]"),  # wide
    st.sampled_from([b"{", b'{"a":', b"[1,", b'"\\ud800"', b"NaN", b"1e999999", b"-"]),
)
header_names = st.one_of(
    st.text(max_size=8), NOT_UTF8.map(lambda b: b.decode("utf-8", "surrogateescape"))
)
hostile_records = st.builds(
    lambda offset, key, value, headers: ConsumerRecord(
        "t", 0, offset, 1_700_000_000_000, 0, key, value, None, -1, -1, tuple(headers)
    ),
    st.integers(0, 2**40),
    st.one_of(st.none(), hostile_bytes),
    st.one_of(st.none(), hostile_bytes),
    st.lists(st.tuples(header_names, st.one_of(st.none(), hostile_bytes)), max_size=3),
)
slow_examples = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

PATTERNS = compile_patterns(
    json.dumps(
        [
            {"value": {"a": [{"exists": True}]}},
            {"value": [1]},
            {"key": [{"prefix": "k"}]},
            {"headers": {"h": [{"exists": True}]}},
        ]
    )
)


def in_order(records: list[KafkaRecord]) -> list[KafkaRecord]:
    """The records with offsets 0, 1, 2, … as one partition's fetch has them."""
    return [
        ConsumerRecord(r.topic, 0, offset, r.timestamp, 0, r.key, r.value, None, -1, -1, r.headers)
        for offset, r in enumerate(records)
    ]


def reason_if_undecodable(decode: Any, body: bytes) -> str | None:
    """None when the body decodes to JSON; the reason when it is undecodable. Any other
    exception fails the test."""
    try:
        json.loads(decode(body))
    except UndecodableRecord as undecodable:
        return undecodable.reason
    return None


@slow_examples
@given(records=st.lists(hostile_records, min_size=1, max_size=5), keep=st.booleans())
def test_the_filter_admits_drops_or_refuses_each_record_and_never_raises(
    records: list[KafkaRecord], keep: bool
) -> None:
    admitted = RecordFilter(PATTERNS, keep_parsed_json=keep).admitted(in_order(records))
    offsets = [record.offset for record in admitted]
    assert offsets == sorted(set(offsets)), "each at most once, in fetch order"
    for record in admitted:
        if type(record) is UndecodedRecord:
            assert record.reason.startswith("the filter cannot read it: ")


@slow_examples
@given(records=st.lists(hostile_records, min_size=1, max_size=5))
@pytest.mark.parametrize("payload_format", list(PayloadFormat))
def test_a_lane_batches_every_record_or_marks_it_undeliverable_in_every_format(
    payload_format: PayloadFormat, records: list[KafkaRecord]
) -> None:
    records = in_order(records)
    lane = Lane(
        topic="t",
        partition=0,
        ordering=Ordering.none,
        encoder=encoder_for(payload_format, "b:9092"),
        max_in_flight=1000,
        max_batch_records=3,
        max_batch_bytes=6 * 1024 * 1024,
        max_buffered_records=1000,
        max_buffered_bytes=100 * 1024 * 1024,
    )
    lane.add(records)
    seen = []
    while (batch := lane.next_batch()) is not None:
        if batch.undeliverable is not None:
            assert len(batch.records) == 1
        else:
            assert len(batch.fragments) == len(batch.records)
        seen.extend(record.offset for record in batch.records)
    assert sorted(seen) == list(range(len(records))), "every record is in one batch"


AVRO_SCHEMAS = [
    {"type": "array", "items": "null"},  # items that take no bytes
    {"type": "map", "values": {"type": "record", "name": "Empty", "fields": []}},
    {  # recursive
        "type": "record",
        "name": "Node",
        "fields": [
            {"name": "label", "type": "string"},
            {"name": "next", "type": ["null", "Node"]},
        ],
    },
    {
        "type": "record",
        "name": "Flat",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "n", "type": "long"},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {
                "name": "amount",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
            },
        ],
    },
]
avro_bodies = st.one_of(
    st.binary(max_size=64),
    st.integers(-(2**63), 2**63 - 1).map(zigzag_varint).map(lambda v: v + b"\x00" * 3),
    st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=4).map(
        lambda counts: b"".join(zigzag_varint(c) + zigzag_varint(0) for c in counts)
    ),
    st.integers(1, 100_000).map(lambda n: (b"\x02\x02x" * n) + b"\x00"),  # nested Node chains
)


@slow_examples
@given(body=avro_bodies)
@pytest.mark.parametrize("schema", AVRO_SCHEMAS, ids=lambda s: s.get("name", s["type"]))
def test_avro_bodies_decode_or_are_undecodable_with_a_reason(
    schema: dict[str, Any], body: bytes
) -> None:
    decoder = avro_decoder(RegisteredSchema(SchemaFormat.AVRO, json.dumps(schema)))
    reason = reason_if_undecodable(decoder.to_json, body)
    assert reason is None or len(reason) < 300, "one line, never the record"


JSON_SCHEMA = RegisteredSchema(
    SchemaFormat.JSON,
    json.dumps(
        {
            "type": "object",
            "properties": {"a": {"$ref": "#"}, "n": {"type": "integer"}},
            "additionalProperties": True,
        }
    ),
)
PROTO_SCHEMA = RegisteredSchema(
    SchemaFormat.PROTOBUF,
    'syntax = "proto3"; message Tree { string label = 1; repeated Tree children = 2; '
    "map<string, Tree> named = 3; }",
)


@slow_examples
@given(body=hostile_bytes)
@pytest.mark.parametrize("schema", [JSON_SCHEMA, PROTO_SCHEMA], ids=["json-schema", "protobuf"])
def test_json_schema_and_protobuf_bodies_decode_or_are_undecodable(
    schema: RegisteredSchema, body: bytes
) -> None:
    decoder = (
        json_schema_decoder(schema)
        if schema.format is SchemaFormat.JSON
        else protobuf_decoder(schema)
    )
    # Protobuf bodies start with the message indexes; the empty list is one zero byte.
    framed = body if schema.format is SchemaFormat.JSON else b"\x00" + body
    reason = reason_if_undecodable(decoder.to_json, framed)
    assert reason is None or len(reason) < 300, "one line, never the record"
