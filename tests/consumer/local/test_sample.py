"""The local mode's records: sample keys and sizes, where poison goes, JSON lines from a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consumer.local.sample import (
    MAX_RECORD_BYTES,
    POISON_MARKER,
    SampleFileError,
    SampleRecord,
    poison_positions,
    records_from_file,
    sample_records,
)


def test_samples_cycle_through_the_keys_with_json_values_of_the_size_asked() -> None:
    records = list(sample_records(250, keys=100, size_bytes=200))

    assert [r.key for r in records[:3]] == [b"key-0", b"key-1", b"key-2"]
    assert records[100].key == b"key-0"
    assert {len(r.value) for r in records} == {200}
    assert [json.loads(r.value)["n"] for r in records] == list(range(250))
    assert not any(POISON_MARKER.encode() in r.value for r in records)


def test_poison_records_are_spread_evenly_and_only_they_carry_the_marker() -> None:
    records = list(sample_records(1000, keys=10, size_bytes=50, poison=3))
    marked = [i for i, r in enumerate(records) if POISON_MARKER.encode() in r.value]

    assert marked == [250, 500, 750]
    assert poison_positions(5, 9) == {0, 1, 2, 3, 4}, "never more poison than records"


def test_file_lines_become_records_with_their_keys_and_json_values(tmp_path: Path) -> None:
    source = tmp_path / "records.jsonl"
    source.write_text(
        '{"key": "a", "value": {"n": 1}}\n'
        "\n"
        '{"key": 7, "value": "text"}\n'
        '{"value": [1, 2]}\n'
        '{"key": "t", "value": null}\n'
        '{"key": "h", "value": 1, "headers": {"trace": "abc", "n": 5, "none": null}}\n'
        '{"value": 2, "headers": [{"hop": "1"}, {"hop": "2", "via": "x"}]}\n'
    )

    assert records_from_file(source) == [
        SampleRecord(b"a", b'{"n": 1}'),
        SampleRecord(b"7", b'"text"'),
        SampleRecord(None, b"[1, 2]"),
        SampleRecord(b"t", None),  # a tombstone
        SampleRecord(b"h", b"1", (("trace", b"abc"), ("n", b"5"), ("none", None))),
        SampleRecord(None, b"2", (("hop", b"1"), ("hop", b"2"), ("via", b"x"))),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"key": "a", "value": 1}\n{"key": "b"\n', "line 2: not JSON"),
        ('{"key": "a"}\n', 'line 1: write {"key": …, "value": …}'),
        ("[1, 2]\n", "line 1: write"),
        ('{"value": 1, "header": {}}\n', """line 1: unknown field 'header'; a line has"""),
        ('{"value": null}\n', r'line 1: a tombstone \("value": null\) needs a "key"'),
        ('{"value": 1, "headers": "a=b"}\n', 'line 1: write "headers" as {"name": "value", …}'),
        ('{"value": 1, "headers": [{"a": "b"}, 3]}\n', 'line 1: write "headers" as'),
    ],
)
def test_a_bad_file_line_is_named_with_its_number(
    tmp_path: Path, content: str, message: str
) -> None:
    source = tmp_path / "records.jsonl"
    source.write_text(content)
    with pytest.raises(SampleFileError, match=message):
        records_from_file(source)


def test_a_line_that_is_not_utf8_is_named_with_its_number(tmp_path: Path) -> None:
    source = tmp_path / "latin1.jsonl"
    source.write_bytes('{"value": "ok"}\n{"value": "café"}\n'.encode("latin-1"))
    with pytest.raises(SampleFileError) as refused:
        records_from_file(source)
    assert str(refused.value) == (
        f"--from-file {source}, line 2: not UTF-8 text (invalid continuation byte at byte 15 "
        "of the line); JSON lines are UTF-8"
    )


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SampleFileError, match="No such file"):
        records_from_file(tmp_path / "absent.jsonl")


def test_a_record_over_the_local_limit_is_refused_before_anything_is_produced(
    tmp_path: Path,
) -> None:
    source = tmp_path / "records.jsonl"
    at_limit = "x" * (MAX_RECORD_BYTES - len("k") - 2)  # its JSON text adds two quotes
    source.write_text(
        json.dumps({"key": "k", "value": at_limit})
        + "\n"
        + json.dumps({"key": "k", "value": at_limit, "headers": {"h": ""}})
        + "\n"
    )
    with pytest.raises(SampleFileError) as refused:
        records_from_file(source)
    assert str(refused.value) == (
        f"--from-file {source}, line 2: the record is 33,554,433 bytes; the local mode "
        "produces records up to 33,554,432 bytes (one Lambda invocation takes 6,291,456: the "
        "bridge dead-letters a larger record as undeliverable)"
    )
