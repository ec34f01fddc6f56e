"""What an answer becomes on RESPONSE_TOPIC: one record, or one per result, never a crash."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from consumer.answers.records import (
    FIRST_OFFSET,
    FUNCTION_NAME,
    LAST_OFFSET,
    REQUEST_ID,
    SOURCE_OFFSET,
    SOURCE_PARTITION,
    SOURCE_TOPIC,
    UNSPLIT_REASON,
    Answer,
    Invocation,
    answer_records,
    error_record,
)

INVOCATION = Invocation("orders", 3, "fn", "req-1")


@dataclass(frozen=True)
class Source:
    offset: int
    key: bytes | None
    topic: str = "orders"
    partition: int = 3
    timestamp: int = 0
    timestamp_type: int = 0
    value: bytes | None = b"{}"
    headers: list[tuple[str, bytes]] = field(default_factory=list)


SOURCES = [Source(10, b"a"), Source(11, b"b"), Source(12, b"a"), Source(13, None)]


def results(*items: tuple[Any, Any]) -> bytes:
    return json.dumps({"results": [{"itemIdentifier": i, "value": v} for i, v in items]}).encode()


def header(answer_headers: list[tuple[str, bytes]], name: str) -> bytes:
    (value,) = [v for n, v in answer_headers if n == name]
    return value


def test_a_whole_answer_is_one_record_keyed_by_its_source_partition_with_the_source_headers():
    answer = answer_records(b'{"total": 4}', INVOCATION, SOURCES)
    (record,) = answer.records
    assert answer.unsplit_reason is None
    assert record.key == b"orders-3"
    assert record.value == b'{"total": 4}'
    assert header(record.headers, SOURCE_TOPIC) == b"orders"
    assert header(record.headers, SOURCE_PARTITION) == b"3"
    assert header(record.headers, FIRST_OFFSET) == b"10"
    assert header(record.headers, LAST_OFFSET) == b"13"
    assert header(record.headers, FUNCTION_NAME) == b"fn"
    assert header(record.headers, REQUEST_ID) == b"req-1"


def test_an_empty_or_null_answer_produces_nothing():
    for body in (b"", b"null", b"  null\n", b" "):
        assert answer_records(body, INVOCATION, SOURCES) == Answer([])


def test_results_become_records_keyed_by_their_sources_in_offset_order():
    body = results(("12", {"x": 1}), (10, "text é"), ("13", None), ("11", [1, 2]))
    answer = answer_records(body, INVOCATION, SOURCES)
    assert answer.unsplit_reason is None
    assert [(r.key, r.value) for r in answer.records] == [
        (b"a", "text é".encode()),  # a string: its text
        (b"b", b"[1, 2]"),  # other JSON: its JSON text, as the function wrote it
        (b"a", b'{"x": 1}'),
        (None, None),  # null: a tombstone
    ]
    assert [header(r.headers, SOURCE_OFFSET) for r in answer.records] == [
        b"10",
        b"11",
        b"12",
        b"13",
    ]
    assert all(header(r.headers, REQUEST_ID) == b"req-1" for r in answer.records)


def test_a_result_without_a_value_is_a_tombstone_and_records_without_results_get_none():
    answer = answer_records(b'{"results": [{"itemIdentifier": "11"}]}', INVOCATION, SOURCES)
    assert [(r.key, r.value) for r in answer.records] == [(b"b", None)]


def test_results_of_retried_records_are_left_to_their_retry():
    body = results(("10", 1), ("11", 2), ("12", 3))
    answer = answer_records(body, INVOCATION, SOURCES, retried_offsets=frozenset({10, 12}))
    assert [r.value for r in answer.records] == [b"2"]


def test_results_anywhere_but_at_the_top_make_a_whole_answer_without_a_reason():
    for body in (b'{"data": {"results": [1]}}', b'[{"results": []}]', b'"results"'):
        answer = answer_records(body, INVOCATION, SOURCES)
        assert answer.unsplit_reason is None
        assert [(r.key, r.value) for r in answer.records] == [(b"orders-3", body)]


def test_results_that_cannot_be_mapped_go_whole_with_the_reason():
    cases = {
        results(("99", 1)): "not in the invocation",
        results(("10", 1), ("10", 2)): "twice",
        results(*((str(o), 1) for o in range(10, 15))): "5 results for 4 records",
        b'{"results": [{"itemIdentifier": 1.5}]}': "not a list of results",
        b'{"results": [{"itemIdentifier": true}]}': "not a list of results",
        b'{"results": "10"}': "not a list of results",
        b'{"results": [{"itemIdentifier": "10", "value": "\\ud800"}]}': "",
    }
    for body, reason in cases.items():
        answer = answer_records(body, INVOCATION, SOURCES)
        (record,) = answer.records
        assert answer.unsplit_reason is not None, body
        assert reason in answer.unsplit_reason, body
        assert record.value == body
        assert header(record.headers, UNSPLIT_REASON) == answer.unsplit_reason.encode()


def test_deep_nesting_goes_whole_without_recursing_to_a_crash():
    body = b'{"results": [{"itemIdentifier": "10", "value": ' + b"[" * 100_000 + b"]" * 100_000
    body += b"}]}"
    answer = answer_records(body, INVOCATION, SOURCES)
    assert len(answer.records) == 1
    assert answer.records[0].value == body


def test_an_error_record_carries_the_error_body_type_and_attempt():
    record = error_record(b'{"errorType": "Boom"}', "Boom", 2, INVOCATION, SOURCES[:2])
    assert record.value == b'{"errorType": "Boom"}'
    assert header(record.headers, "answer.error.type") == b"Boom"
    assert header(record.headers, "answer.attempt") == b"2"
    assert header(record.headers, LAST_OFFSET) == b"11"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
identifiers = st.one_of(
    st.sampled_from(["10", "11", "12", "13", " 12 ", "", "x"]),
    st.integers(-5, 20),
    json_values,
)
result_items = st.one_of(
    st.fixed_dictionaries({"itemIdentifier": identifiers, "value": json_values}),
    st.fixed_dictionaries({"itemIdentifier": identifiers}),
    json_values,
)
hostile_answers = st.one_of(
    st.builds(lambda items: json.dumps({"results": items}).encode(), st.lists(result_items)),
    st.builds(lambda v: json.dumps({"results": v}).encode(), json_values),
    st.binary(max_size=200).map(lambda b: b'{"results": ' + b),
    st.binary(max_size=200),
)


@given(hostile_answers)
def test_any_answer_is_split_exactly_or_produced_whole(body: bytes) -> None:
    answer = answer_records(body, INVOCATION, SOURCES)
    if not answer.records:  # nothing to answer, or results for none of the records
        assert body.strip() in (b"", b"null") or answer.unsplit_reason is None
        assert body.strip() in (b"", b"null") or b'"results"' in body
        return
    if answer.unsplit_reason is not None or not _is_split(answer):
        (whole,) = answer.records
        assert whole.value == body
        assert whole.key == b"orders-3"
        return
    offsets = [int(header(r.headers, SOURCE_OFFSET)) for r in answer.records]
    assert offsets == sorted(set(offsets)), "one record per source, in offset order"
    by_offset = {s.offset: s.key for s in SOURCES}
    assert all(r.key == by_offset[o] for r, o in zip(answer.records, offsets, strict=True))


def _is_split(answer: Answer) -> bool:
    return all(name != FIRST_OFFSET for name, _ in answer.records[0].headers)
