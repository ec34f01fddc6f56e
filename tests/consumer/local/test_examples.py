"""The example handlers take any JSON value `--from-file` can give (an object, a string, a
number, null, a list), tombstones and headers without a value, in the payload format each
is written for."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from aiokafka.structs import ConsumerRecord

from consumer.local.handlers import load_handler
from consumer.payloads.encoders import LegacyEncoder, NativeEncoder, ValueEncoder
from tests.support.bridge_harness import REPO

# A value, and how the example shows it when it is the first record it sees.
VALUES = [
    (b'"hello"', '"hello"'),
    (b"42", "42"),
    (b"null", "null"),
    (b"[1, 2]", "[1, 2]"),
    (b'{"no_n": true}', '{"no_n": true}'),
    (b'{"n": 7}', "n=7"),
]


@pytest.mark.parametrize(("value", "shown"), VALUES)
@pytest.mark.parametrize(
    ("example", "encoder", "answer"),
    [
        ("native_handler.py", NativeEncoder("localhost:9092"), {"batchItemFailures": []}),
        ("legacy_handler.py", LegacyEncoder(), {"processed": 1}),
    ],
)
def test_an_example_takes_every_kind_of_json_value(
    example: str,
    encoder: NativeEncoder | LegacyEncoder,
    answer: dict[str, object],
    value: bytes,
    shown: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = load_handler(f"{REPO / 'examples' / example}:handler")  # imported afresh
    record = ConsumerRecord("t", 0, 5, 0, 0, b"k", value, None, 1, len(value), [])
    event = json.loads(encoder.assemble("t", 0, [encoder.encode_record(record)]))
    context = SimpleNamespace(function_name=example.removesuffix(".py"))
    assert handler(event, context) == answer
    assert f"first record t-0@5, key 'k', value {shown}" in capsys.readouterr().out


@pytest.mark.parametrize(("value", "shown"), VALUES)
def test_the_value_example_takes_the_value_itself(
    value: bytes, shown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = load_handler(f"{REPO / 'examples' / 'value_handler.py'}:handler")
    encoder = ValueEncoder()
    record = ConsumerRecord("t", 0, 5, 0, 0, b"k", value, None, 1, len(value), [])
    event = json.loads(encoder.assemble("t", 0, [encoder.encode_record(record)]))
    assert handler(event, SimpleNamespace(function_name="value_handler")) is None
    assert f"value_handler: first value {shown}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("example", "encoder", "answer"),
    [
        ("native_handler.py", NativeEncoder("localhost:9092"), {"batchItemFailures": []}),
        ("legacy_handler.py", LegacyEncoder(), {"processed": 1}),
    ],
)
def test_an_example_takes_a_tombstone_with_a_header_without_a_value(
    example: str,
    encoder: NativeEncoder | LegacyEncoder,
    answer: dict[str, object],
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = load_handler(f"{REPO / 'examples' / example}:handler")
    headers = [("trace", b"abc"), ("empty", None)]
    record = ConsumerRecord("t", 0, 5, 0, 0, b"k", None, None, 1, -1, headers)
    event = json.loads(encoder.assemble("t", 0, [encoder.encode_record(record)]))
    context = SimpleNamespace(function_name=example.removesuffix(".py"))
    assert handler(event, context) == answer
    assert "first record t-0@5, key 'k', value null, headers ['empty', 'trace']" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(("value", "shown"), [*VALUES, (None, "")])
def test_the_answering_example_answers_each_record_by_its_offset(
    value: bytes | None, shown: str
) -> None:
    handler = load_handler(f"{REPO / 'examples' / 'answering_handler.py'}:handler")
    encoder = NativeEncoder("localhost:9092")
    size = 0 if value is None else len(value)
    records = [
        ConsumerRecord("t", 0, offset, 0, 0, b"k", value, None, 1, size, []) for offset in (5, 6)
    ]
    event = json.loads(encoder.assemble("t", 0, [encoder.encode_record(r) for r in records]))
    answer = handler(event, SimpleNamespace(function_name="answering_handler"))
    expected = None if value is None else {"length": len(value)}
    if expected is not None and shown.startswith("n="):
        expected["n"] = 7
    assert answer == {
        "results": [
            {"itemIdentifier": "5", "value": expected},
            {"itemIdentifier": "6", "value": expected},
        ],
        "batchItemFailures": [],
    }
