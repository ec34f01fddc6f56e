"""Batches aiokafka cannot parse whole: parsed again, every record kept, the bad name as bytes."""

from __future__ import annotations

from typing import Any

import aiokafka.consumer.fetcher as aiokafka_fetcher
import pytest
from aiokafka.consumer.fetcher import READ_UNCOMMITTED, PartitionRecords
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.kafka import record_batches
from consumer.records import header_name_bytes
from tests.support.raw_batches import MARKER, NOT_UTF8_MARKER, batch, gzipped, not_utf8_name

headers = st.lists(
    st.tuples(st.text(max_size=8), st.one_of(st.none(), st.binary(max_size=8))), max_size=4
)
records = st.lists(
    st.tuples(
        st.one_of(st.none(), st.binary(max_size=16)),
        st.one_of(st.none(), st.binary(max_size=64)),
        headers,
    ),
    min_size=1,
    max_size=20,
)


def fields(record: Any) -> tuple[Any, ...]:
    return (
        record.offset,
        record.timestamp,
        record.timestamp_type,
        record.key,
        record.value,
        [tuple(header) for header in record.headers],
    )


def aiokafka_reads(data: bytes) -> list[tuple[Any, ...]]:
    memory = MemoryRecords(data)
    return [fields(record) for record in memory.next_batch()]


@settings(max_examples=200, deadline=None)
@given(rows=records, compression=st.sampled_from([0, 1]), base_offset=st.integers(0, 2**40))
def test_the_fallback_parser_reads_every_batch_as_aiokafka_does(
    rows: list[Any], compression: int, base_offset: int
) -> None:
    data = batch(rows, compression, base_offset)
    parsed = [fields(record) for record in record_batches._parse(memoryview(data))]
    assert parsed == aiokafka_reads(data)


def test_aiokafka_still_fails_a_fetch_on_a_header_name_that_is_not_utf8() -> None:
    """What the fallback is for: if aiokafka ever reads such a name itself, this fails and the
    fallback can go."""
    data = not_utf8_name(batch([(b"k", b"v", [(MARKER, b"x")])]))
    assert MemoryRecords(data).next_batch().validate_crc()
    with pytest.raises(UnicodeDecodeError):
        aiokafka_reads(data)


@pytest.mark.parametrize("compression", [0, 1])
def test_a_batch_with_a_name_that_is_not_utf8_yields_every_record_and_the_name_as_bytes(
    compression: int,
) -> None:
    rows = [
        (b"a", b"before", [("ok", b"1")]),
        (b"b", b"bad", [("ok", b"2"), (MARKER, None)]),
        (None, b"after", []),
    ]
    data = not_utf8_name(batch(rows, 0, base_offset=40))
    if compression:
        data = gzipped(data)
    # Read as aiokafka's fetcher reads a partition's batches, from the fetch position on.
    partition_records = PartitionRecords(
        TopicPartition("t", 0),
        record_batches._RecoveringMemoryRecords(data),
        None,
        40,
        None,
        None,
        True,
        READ_UNCOMMITTED,
    )
    got = [fields(record) for record in partition_records]
    assert [offset for offset, *_ in got] == [40, 41, 42]
    assert [value for *_, value, _ in got] == [b"before", b"bad", b"after"]
    bad_name = got[1][-1][1][0]
    assert header_name_bytes(bad_name) == NOT_UTF8_MARKER
    assert header_name_bytes(got[1][-1][0][0]) is None  # the good name beside it


def test_the_fetcher_looks_up_the_wrapped_records_class_by_name() -> None:
    record_batches.install()
    assert aiokafka_fetcher.MemoryRecords is record_batches._RecoveringMemoryRecords
    record_batches.install()  # idempotent
    assert aiokafka_fetcher.MemoryRecords is record_batches._RecoveringMemoryRecords


@given(name=st.text())
def test_no_name_decoded_from_utf8_is_taken_for_one_that_is_not(name: str) -> None:
    utf8 = name.encode("utf-8", "surrogatepass")
    try:
        decoded = utf8.decode("utf-8")
    except UnicodeDecodeError:
        return  # a name with lone surrogates has no UTF-8 form: no producer writes it
    assert header_name_bytes(decoded) is None


@given(raw=st.binary(min_size=1, max_size=16))
def test_a_name_that_is_not_utf8_comes_back_as_its_bytes(raw: bytes) -> None:
    name = raw.decode("utf-8", "surrogateescape")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        assert header_name_bytes(name) == raw
    else:
        assert header_name_bytes(name) is None
