"""The records every contender reads."""

from __future__ import annotations

import json

import pytest

from benchmarks.workload import AVRO_SCHEMA, KINDS, Workload
from consumer.schemas.avro import avro_decoder
from consumer.schemas.model import RegisteredSchema, SchemaFormat


def test_a_record_is_made_from_its_index_alone() -> None:
    one, other = Workload(partitions=20), Workload(partitions=20)
    assert [(one.key(i), one.value(i), one.partition(i)) for i in range(50)] == [
        (other.key(i), other.value(i), other.partition(i)) for i in range(50)
    ]


def test_values_are_json_of_exactly_the_record_size() -> None:
    workload = Workload(partitions=4, record_bytes=1024)
    for index in (0, 7, 123_456_789):
        value = workload.value(index)
        assert len(value) == 1024
        assert json.loads(value)["seq"] == index


def test_each_partition_holds_every_kind_in_turn() -> None:
    workload = Workload(partitions=20)
    for partition in (0, 7, 19):
        kinds = [json.loads(workload.value(i))["kind"] for i in range(partition, 2000, 20)]
        assert kinds.count("allele") == len(kinds) // 10
        assert kinds[:10] == list(KINDS)


def test_a_key_always_lands_in_the_same_partition() -> None:
    workload = Workload(partitions=20, keys=30)
    placed: dict[bytes, set[int]] = {}
    for index in range(300):
        placed.setdefault(workload.key(index), set()).add(workload.partition(index))
    assert len(placed) == 30
    assert all(len(partitions) == 1 for partitions in placed.values())
    assert {workload.partition(i) for i in range(300)} == set(range(20))


def test_a_record_too_small_for_its_json_is_refused() -> None:
    with pytest.raises(ValueError, match="record_bytes must be at least"):
        Workload(partitions=1, record_bytes=10)


def test_avro_values_carry_the_schema_id_and_decode_to_the_json_values() -> None:
    workload = Workload(partitions=4, record_bytes=1024)
    decoder = avro_decoder(RegisteredSchema(SchemaFormat.AVRO, json.dumps(AVRO_SCHEMA)))
    for index in (0, 7, 12_345):
        framed = workload.avro_value(index, schema_id=42)
        assert framed[:5] == b"\x00\x00\x00\x00\x2a"  # Confluent's magic byte and the id
        assert len(framed) < workload.record_bytes, "Avro is the smaller encoding"
        assert decoder.to_json(framed[5:]) == workload.value(index)
