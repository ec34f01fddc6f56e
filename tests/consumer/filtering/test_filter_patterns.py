"""Filter patterns: AWS's documented examples, the edge cases around them, and what is refused.

Each case is a pattern, a Kafka record (a real aiokafka ConsumerRecord) and whether the
record filter admits it, so the view of the record (JSON or text value, key, headers) is
tested with the matching.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord

from consumer.filtering import record_filter
from consumer.filtering.patterns import FilterPatternError, compile_patterns
from consumer.filtering.record_filter import RecordFilter
from consumer.payloads import encoders as payloads
from consumer.payloads.encoders import ValueEncoder
from consumer.records import CheckedJsonRecord, KafkaRecord, UndeliverableRecord

TOPIC = "curation"


def record(
    value: bytes | None,
    key: bytes | None = b"variant-1",
    headers: Sequence[tuple[str, bytes | None]] = (),
    partition: int = 3,
    offset: int = 42,
    timestamp_type: int = 0,
) -> KafkaRecord:
    built: KafkaRecord = ConsumerRecord(
        topic=TOPIC,
        partition=partition,
        offset=offset,
        timestamp=1_545_084_650_987,
        timestamp_type=timestamp_type,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=-1,
        serialized_value_size=-1,
        headers=list(headers),
    )
    return built


def json_record(value: Any, **fields: Any) -> KafkaRecord:
    return record(json.dumps(value, ensure_ascii=False).encode(), **fields)


def admits(pattern: Any, kafka_record: KafkaRecord) -> bool:
    return RecordFilter(compile_patterns([pattern])).admits(kafka_record)


def value_pattern(**fields: Any) -> dict[str, Any]:
    return {"value": fields}


# -- AWS's examples --------------------------------------------------------------------------

DEVICE = {"device_ID": "AB1234", "session": {"start_time": "2024-01-01T00:00:00", "duration": 162}}

# Lambda's Kafka filtering page, then every row of Lambda's "Filter rule syntax" table (its
# example, under "value"), then the Pipe-supported rows of EventBridge's operator table that
# Lambda's table leaves out, each with a record that matches and one that does not.
AWS_EXAMPLES: list[tuple[str, Any, KafkaRecord, bool]] = [
    ("kafka json prefix", {"value": {"device_ID": [{"prefix": "AB"}]}}, json_record(DEVICE), True),
    (
        "kafka json prefix, other device",
        {"value": {"device_ID": [{"prefix": "AB"}]}},
        json_record({**DEVICE, "device_ID": "CD1234"}),
        False,
    ),
    (
        "kafka plain string, not error",
        {"value": [{"anything-but": ["error"]}]},
        record(b"Hello, this is a test."),
        True,
    ),
    (
        "kafka plain string, error",
        {"value": [{"anything-but": ["error"]}]},
        record(b"error"),
        False,
    ),
    ("null", value_pattern(UserID=[None]), json_record({"UserID": None}), True),
    ("null, a value", value_pattern(UserID=[None]), json_record({"UserID": "u-1"}), False),
    ("empty", value_pattern(LastName=[""]), json_record({"LastName": ""}), True),
    ("empty is not null", value_pattern(LastName=[""]), json_record({"LastName": None}), False),
    ("equals", value_pattern(Name=["Alice"]), json_record({"Name": "Alice"}), True),
    ("equals is exact", value_pattern(Name=["Alice"]), json_record({"Name": "alice"}), False),
    (
        "equals ignore case",
        value_pattern(Name=[{"equals-ignore-case": "alice"}]),
        json_record({"Name": "ALICE"}),
        True,
    ),
    (
        "and",
        value_pattern(Location=["New York"], Day=["Monday"]),
        json_record({"Location": "New York", "Day": "Monday"}),
        True,
    ),
    (
        "and, one differs",
        value_pattern(Location=["New York"], Day=["Monday"]),
        json_record({"Location": "New York", "Day": "Tuesday"}),
        False,
    ),
    (
        "or",
        value_pattern(PaymentType=["Credit", "Debit"]),
        json_record({"PaymentType": "Debit"}),
        True,
    ),
    (
        "or, neither",
        value_pattern(PaymentType=["Credit", "Debit"]),
        json_record({"PaymentType": "Cash"}),
        False,
    ),
    (
        "or, multiple fields",
        {"value": {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}},
        json_record({"Location": "Boston", "Day": "Monday"}),
        True,
    ),
    (
        "or, multiple fields, neither",
        {"value": {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}},
        json_record({"Location": "Boston", "Day": "Friday"}),
        False,
    ),
    (
        "not",
        value_pattern(Weather=[{"anything-but": ["Raining"]}]),
        json_record({"Weather": "Sunny"}),
        True,
    ),
    (
        "not, raining",
        value_pattern(Weather=[{"anything-but": ["Raining"]}]),
        json_record({"Weather": "Raining"}),
        False,
    ),
    (
        "numeric equals",
        value_pattern(Price=[{"numeric": ["=", 100]}]),
        json_record({"Price": 100}),
        True,
    ),
    (
        "numeric equals, other",
        value_pattern(Price=[{"numeric": ["=", 100]}]),
        json_record({"Price": 101}),
        False,
    ),
    (
        "numeric range",
        value_pattern(Price=[{"numeric": [">", 10, "<=", 20]}]),
        json_record({"Price": 20}),
        True,
    ),
    (
        "numeric range, bottom excluded",
        value_pattern(Price=[{"numeric": [">", 10, "<=", 20]}]),
        json_record({"Price": 10}),
        False,
    ),
    (
        "exists",
        value_pattern(ProductName=[{"exists": True}]),
        json_record({"ProductName": "p"}),
        True,
    ),
    (
        "exists, missing",
        value_pattern(ProductName=[{"exists": True}]),
        json_record({"Other": 1}),
        False,
    ),
    (
        "does not exist",
        value_pattern(ProductName=[{"exists": False}]),
        json_record({"Other": 1}),
        True,
    ),
    (
        "does not exist, there",
        value_pattern(ProductName=[{"exists": False}]),
        json_record({"ProductName": "p"}),
        False,
    ),
    (
        "begins with",
        value_pattern(Region=[{"prefix": "us-"}]),
        json_record({"Region": "us-east-1"}),
        True,
    ),
    (
        "begins with, other",
        value_pattern(Region=[{"prefix": "us-"}]),
        json_record({"Region": "eu-west-1"}),
        False,
    ),
    (
        "ends with",
        value_pattern(FileName=[{"suffix": ".png"}]),
        json_record({"FileName": "a.png"}),
        True,
    ),
    (
        "ends with, other",
        value_pattern(FileName=[{"suffix": ".png"}]),
        json_record({"FileName": "a.jpg"}),
        False,
    ),
    (
        "begins with, ignore case",
        value_pattern(service=[{"prefix": {"equals-ignore-case": "eventb"}}]),
        json_record({"service": "EventBridge"}),
        True,
    ),
    (
        "ends with, ignore case",
        value_pattern(service=[{"suffix": {"equals-ignore-case": "tBridge"}}]),
        json_record({"service": "EVENTBRIDGE"}),
        True,
    ),
    (
        "anything-but one value",
        value_pattern(state=[{"anything-but": "initializing"}]),
        json_record({"state": "running"}),
        True,
    ),
    (
        "anything-but numbers",
        value_pattern(code=[{"anything-but": [100, 200, 300]}]),
        json_record({"code": 200}),
        False,
    ),
    (
        "exists works on leaves only (Lambda's person.address example)",
        {"value": {"person": {"address": [{"exists": True}]}}},
        json_record({"person": {"name": "John", "address": {"street": "1 Main", "city": "X"}}}),
        False,
    ),
    (
        "multi-level (Lambda's DynamoDB example, as a Kafka value)",
        {"value": {"dynamodb": {"Keys": {"Number": {"N": ["4567"]}}}}},
        json_record({"dynamodb": {"Keys": {"Number": {"N": "4567"}}}}),
        True,
    ),
]


@pytest.mark.parametrize(
    ("pattern", "kafka_record", "expected"),
    [case[1:] for case in AWS_EXAMPLES],
    ids=[case[0] for case in AWS_EXAMPLES],
)
def test_aws_documentation_examples(
    pattern: Any, kafka_record: KafkaRecord, expected: bool
) -> None:
    assert admits(pattern, kafka_record) is expected


# -- edge cases ------------------------------------------------------------------------------

CLINGEN = '{"type": "allele", "id": "CA000001", "gene": {"symbol": "BRCA1", "hgnc": 1100}}'

EDGE_CASES: list[tuple[str, Any, KafkaRecord, bool]] = [
    ("nested field", {"value": {"gene": {"symbol": ["BRCA1"]}}}, record(CLINGEN.encode()), True),
    ("nested number", {"value": {"gene": {"hgnc": [1100]}}}, record(CLINGEN.encode()), True),
    (
        "nested, missing level",
        {"value": {"gene": {"symbol": ["BRCA1"]}}},
        json_record({"type": "allele"}),
        False,
    ),
    (
        "nested, missing level, exists false",
        {"value": {"gene": {"symbol": [{"exists": False}]}}},
        json_record({"type": "allele"}),
        True,
    ),
    ("array: any element", value_pattern(tags=["b"]), json_record({"tags": ["a", "b", "c"]}), True),
    ("array: none", value_pattern(tags=["z"]), json_record({"tags": ["a", "b"]}), False),
    ("nested array", value_pattern(tags=["b"]), json_record({"tags": [["a"], ["b"]]}), True),
    (
        "empty array does not exist",
        value_pattern(tags=[{"exists": True}]),
        json_record({"tags": []}),
        False,
    ),
    (
        "empty array, exists false",
        value_pattern(tags=[{"exists": False}]),
        json_record({"tags": []}),
        True,
    ),
    (
        "array of objects: fields of one element",
        {"value": {"people": {"first": ["Anna"], "last": ["Smith"]}}},
        json_record(
            {"people": [{"first": "Anna", "last": "Jones"}, {"first": "Ben", "last": "Smith"}]}
        ),
        False,
    ),
    (
        "array of objects: one element has both",
        {"value": {"people": {"first": ["Anna"], "last": ["Smith"]}}},
        json_record(
            {"people": [{"first": "Ben", "last": "Jones"}, {"first": "Anna", "last": "Smith"}]}
        ),
        True,
    ),
    ("number is not its string", value_pattern(n=[5]), json_record({"n": "5"}), False),
    ("string is not its number", value_pattern(n=["5"]), json_record({"n": 5}), False),
    (
        "numeric ignores numeric strings",
        value_pattern(n=[{"numeric": [">", 1]}]),
        json_record({"n": "5"}),
        False,
    ),
    ("300 matches 300.0 (by value)", value_pattern(n=[300]), record(b'{"n": 300.0}'), True),
    ("300 matches 3.0e2 (by value)", value_pattern(n=[300]), record(b'{"n": 3.0e2}'), True),
    ("true is not 1", value_pattern(n=[1]), json_record({"n": True}), False),
    ("1 is not true", value_pattern(n=[True]), json_record({"n": 1}), False),
    (
        "numeric ignores booleans",
        value_pattern(n=[{"numeric": [">", 0]}]),
        json_record({"n": True}),
        False,
    ),
    (
        "numeric ignores null",
        value_pattern(n=[{"numeric": [">", 0]}]),
        json_record({"n": None}),
        False,
    ),
    ("false matches false", value_pattern(ok=[False]), json_record({"ok": False}), True),
    ("missing field", value_pattern(type=["allele"]), json_record({"id": 1}), False),
    (
        "anything-but needs the field",
        value_pattern(type=[{"anything-but": "gene"}]),
        json_record({"id": 1}),
        False,
    ),
    (
        "anything-but counts null as a value",
        value_pattern(type=[{"anything-but": "gene"}]),
        json_record({"type": None}),
        True,
    ),
    (
        "exists counts null as a value",
        value_pattern(type=[{"exists": True}]),
        json_record({"type": None}),
        True,
    ),
    ("an object is not a leaf", value_pattern(gene=["BRCA1"]), record(CLINGEN.encode()), False),
    (
        "an object has no value: exists false",
        value_pattern(gene=[{"exists": False}]),
        record(CLINGEN.encode()),
        True,
    ),
    ("unicode equals", value_pattern(name=["Ærø-ß 😀"]), json_record({"name": "Ærø-ß 😀"}), True),
    (
        "unicode escapes equal their text",
        value_pattern(name=["é"]),
        record(b'{"name": "\\u00e9"}'),
        True,
    ),
    (
        "unicode ignore case",
        value_pattern(name=[{"equals-ignore-case": "ÉCOLE"}]),
        json_record({"name": "école"}),
        True,
    ),
    (
        "prefix of nothing matches any string",
        value_pattern(s=[{"prefix": ""}]),
        json_record({"s": "x"}),
        True,
    ),
    ("prefix ignores numbers", value_pattern(s=[{"prefix": "1"}]), json_record({"s": 12}), False),
    (
        "big integer",
        value_pattern(n=[{"numeric": [">", 1e15]}]),
        record(b'{"n": ' + b"9" * 40 + b"}"),
        True,
    ),
    (
        "very large value",
        value_pattern(type=["allele"]),
        json_record({"pad": "x" * 1_000_000, "type": "allele"}),
        True,
    ),
    (
        "leading whitespace is still JSON",
        value_pattern(type=["allele"]),
        record(b'\n  {"type": "allele"}'),
        True,
    ),
    # Lambda: a value not of the pattern's form is judged on the other fields alone.
    (
        "text value, JSON pattern: admitted",
        value_pattern(type=["allele"]),
        record(b"not json"),
        True,
    ),
    (
        "text value, JSON pattern, other field decides",
        {"partition": [0], "value": {"type": ["allele"]}},
        record(b"not json", partition=3),
        False,
    ),
    (
        "JSON value, text pattern: admitted",
        {"value": ["allele"]},
        json_record({"type": "gene"}),
        True,
    ),
    ("not UTF-8: admitted", value_pattern(type=["allele"]), record(b"\xff\xfe\x00binary"), True),
    (
        "a JSON string value is text, quotes and all",
        {"value": ['"allele"']},
        record(b'"allele"'),
        True,
    ),
    ("a JSON number value is text", {"value": [{"prefix": "12"}]}, record(b"123"), True),
    (
        "text that starts like JSON is text",
        {"value": [{"prefix": "{not"}]},
        record(b"{not json"),
        True,
    ),
    ("a tombstone has no value", value_pattern(type=["allele"]), record(None), False),
    ("a tombstone: value does not exist", {"value": [{"exists": False}]}, record(None), True),
    # The record's other fields.
    ("topic", {"topic": [TOPIC]}, record(b"x"), True),
    ("partition", {"partition": [{"numeric": [">=", 3]}]}, record(b"x", partition=2), False),
    ("offset", {"offset": [42]}, record(b"x"), True),
    ("timestamp", {"timestamp": [{"numeric": [">", 1_545_084_650_000]}]}, record(b"x"), True),
    ("timestampType", {"timestampType": ["LOG_APPEND_TIME"]}, record(b"x", timestamp_type=1), True),
    ("key as text", {"key": [{"prefix": "variant-"}]}, record(b"x"), True),
    ("null key does not exist", {"key": [{"exists": False}]}, record(b"x", key=None), True),
    (
        "header as text",
        {"headers": {"source": ["clingen"]}},
        record(b"x", headers=[("source", b"clingen")]),
        True,
    ),
    (
        "repeated header: any value",
        {"headers": {"source": ["b"]}},
        record(b"x", headers=[("source", b"a"), ("source", b"b")]),
        True,
    ),
    ("null header value", {"headers": {"h": [None]}}, record(b"x", headers=[("h", None)]), True),
    (
        "header not UTF-8 does not exist",
        {"headers": {"h": [{"exists": False}]}},
        record(b"x", headers=[("h", b"\xff")]),
        True,
    ),
    (
        "metadata and value together",
        {"topic": [TOPIC], "value": {"type": ["allele"]}},
        record(CLINGEN.encode()),
        True,
    ),
]


@pytest.mark.parametrize(
    ("pattern", "kafka_record", "expected"),
    [case[1:] for case in EDGE_CASES],
    ids=[case[0] for case in EDGE_CASES],
)
def test_edge_cases(pattern: Any, kafka_record: KafkaRecord, expected: bool) -> None:
    assert admits(pattern, kafka_record) is expected


def test_a_record_matching_any_pattern_is_admitted() -> None:
    patterns = compile_patterns('[{"value": {"type": ["allele"]}}, {"value": {"type": ["gene"]}}]')
    filtering = RecordFilter(patterns)
    kinds = ["allele", "gene", "haplotype"]
    records = [json_record({"type": kind}, offset=i) for i, kind in enumerate(kinds)]
    assert [r.offset for r in filtering.admitted(records)] == [0, 1]


def test_patterns_pasted_from_lambda_filter_criteria_are_taken_as_they_are() -> None:
    pattern = '{"value": {"type": ["allele"]}}'
    as_list_of_strings = json.dumps([pattern])
    as_filter_criteria = json.dumps({"Filters": [{"Pattern": pattern}]})
    allele, gene = json_record({"type": "allele"}), json_record({"type": "gene"})
    for given in (as_list_of_strings, as_filter_criteria):
        filtering = RecordFilter(compile_patterns(given))
        assert (filtering.admits(allele), filtering.admits(gene)) == (True, False)


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every value the record filter parses, in order."""
    seen: list[bytes] = []
    parse = record_filter._parse_json

    def counting(value: bytes) -> Any:
        seen.append(value)
        return parse(value)

    monkeypatch.setattr(record_filter, "_parse_json", counting)
    return seen


def test_each_value_is_parsed_once_whatever_the_number_of_patterns(parsed: list[bytes]) -> None:
    patterns = [{"value": {"n": [i]}} for i in range(5)] + [{"topic": ["t"], "value": {"m": [1]}}]
    records = [json_record({"n": i}, offset=i) for i in range(20)]
    RecordFilter(compile_patterns(patterns)).admitted(records)
    assert len(parsed) == len(records)

    parsed.clear()
    RecordFilter(compile_patterns([{"partition": [3]}, {"key": ["k"]}])).admitted(records)
    assert parsed == [], "patterns that never name the value never parse it"


def test_for_the_value_format_a_parsed_value_is_not_parsed_again(
    monkeypatch: pytest.MonkeyPatch, parsed: list[bytes]
) -> None:
    checking_json = json.loads

    def refused(*arguments: Any, **named: Any) -> Any:
        raise AssertionError("the value format parsed a value the filter had parsed")

    encoder = ValueEncoder()
    filtering = RecordFilter(compile_patterns([{"value": {"n": [1, 2]}}]), keep_parsed_json=True)
    records = [json_record({"n": n}, offset=n) for n in range(4)]
    kept = filtering.admitted(records)
    assert [r.offset for r in kept] == [1, 2]
    assert all(isinstance(r, CheckedJsonRecord) for r in kept)
    monkeypatch.setattr(payloads.json, "loads", refused)
    assert [encoder.encode_record(r) for r in kept] == [records[1].value, records[2].value]
    monkeypatch.setattr(payloads.json, "loads", checking_json)
    assert len(parsed) == len(records)
    # A text value the filter did not parse is checked by the format, as without filtering.
    text = RecordFilter(compile_patterns([{"value": ["plain"]}]), keep_parsed_json=True)
    (plain,) = text.admitted([record(b"plain")])
    with pytest.raises(UndeliverableRecord, match="value is not JSON"):
        encoder.encode_record(plain)


# -- what is refused -------------------------------------------------------------------------

REFUSED: list[tuple[str, str, str]] = [
    ("not JSON", "{value: 1}", "not JSON: Expecting property name"),
    ("NaN", '[{"value": {"n": [NaN]}}]', "NaN is not a JSON number"),
    ("not a list", '{"value": {"a": [1]}}', "must be a JSON list of filter patterns"),
    ("a pattern that is not an object", "[5]", "pattern 1 of 1 is 5: a pattern is a JSON object"),
    ("a pattern string that is not JSON", '["{oops"]', "pattern 1 of 1 is not JSON"),
    ("an empty pattern", "[{}]", "it would pass every record"),
    (
        "unknown record field",
        '[{"Value": {"a": [1]}}]',
        "'Value' is not a field of a Kafka record (did you mean 'value'?)",
    ),
    ("a service's data key", '[{"body": {"a": [1]}}]', "'body' is not a field of a Kafka record"),
    (
        "rules not a list",
        '[{"value": {"a": "x"}}]',
        'value.a is "x": a field\'s rules are a JSON list, e.g. ["x"]',
    ),
    ("no rules", '[{"value": {"a": []}}]', "value.a is []: list at least one rule"),
    ("an empty sub-pattern", '[{"value": {"a": {}}}]', "value.a is {}"),
    ("a list in the rules", '[{"value": {"a": [[1]]}}]', "not lists"),
    (
        "two operators in one object",
        '[{"value": {"a": [{"prefix": "x", "suffix": "y"}]}}]',
        "exactly one operator",
    ),
    (
        "unknown operator",
        '[{"value": {"a": [{"begins-with": "x"}]}}]',
        "'begins-with' is not a filter operator",
    ),
    (
        "wildcard",
        '[{"value": {"a": [{"wildcard": "*.png"}]}}]',
        "'wildcard' is an EventBridge operator that Lambda's filters do not take",
    ),
    ("cidr", '[{"value": {"ip": [{"cidr": "10.0.0.0/24"}]}}]', "'cidr' is an EventBridge operator"),
    (
        "anything-but prefix",
        '[{"value": {"a": [{"anything-but": {"prefix": "x"}}]}}]',
        "an EventBridge form that Lambda's filters do not take",
    ),
    (
        "anything-but ignore case",
        '[{"value": {"a": [{"anything-but": {"equals-ignore-case": "x"}}]}}]',
        "an EventBridge form",
    ),
    (
        "anything-but mixed list",
        '[{"value": {"a": [{"anything-but": ["x", 1]}]}}]',
        "only strings or only numbers",
    ),
    (
        "anything-but null",
        '[{"value": {"a": [{"anything-but": [null]}]}}]',
        "only strings or only numbers",
    ),
    ("anything-but empty", '[{"value": {"a": [{"anything-but": []}]}}]', "a non-empty list"),
    ("prefix number", '[{"value": {"a": [{"prefix": 5}]}}]', "prefix takes a string"),
    ("suffix list", '[{"value": {"a": [{"suffix": ["x"]}]}}]', "suffix takes a string"),
    (
        "equals-ignore-case list",
        '[{"value": {"a": [{"equals-ignore-case": ["x"]}]}}]',
        "equals-ignore-case takes one string",
    ),
    ("numeric not a list", '[{"value": {"a": [{"numeric": 5}]}}]', "numeric takes"),
    ("numeric odd length", '[{"value": {"a": [{"numeric": [">", 1, "<"]}]}}]', "numeric takes"),
    (
        "numeric operator",
        '[{"value": {"a": [{"numeric": ["!=", 1]}]}}]',
        '"!=" is not a numeric operator',
    ),
    (
        "numeric string operand",
        '[{"value": {"a": [{"numeric": [">", "1"]}]}}]',
        'numeric compares with numbers, not "1"',
    ),
    (
        "numeric boolean operand",
        '[{"value": {"a": [{"numeric": [">", true]}]}}]',
        "numeric compares with numbers, not true",
    ),
    (
        "numeric two lower bounds",
        '[{"value": {"a": [{"numeric": [">", 1, ">=", 2]}]}}]',
        "one lower bound",
    ),
    (
        "numeric range upside down",
        '[{"value": {"a": [{"numeric": [">", 5, "<", 1]}]}}]',
        "lower bound 5 must be below its upper bound 1",
    ),
    (
        "exists not a boolean",
        '[{"value": {"a": [{"exists": "yes"}]}}]',
        'exists takes true or false, not "yes"',
    ),
    (
        "$or with one pattern",
        '[{"value": {"$or": [{"a": [1]}]}}]',
        "$or takes a list of two or more patterns",
    ),
    ("$or not a list", '[{"value": {"$or": {"a": [1]}}}]', "$or takes a list"),
    (
        "bad FilterCriteria",
        '{"Filters": [{"pattern": "{}"}]}',
        '{"Pattern": "<pattern as JSON text>"}',
    ),
]


@pytest.mark.parametrize(
    ("text", "fragment"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED]
)
def test_a_bad_pattern_is_one_line_naming_the_pattern_and_the_problem(
    text: str, fragment: str
) -> None:
    with pytest.raises(FilterPatternError) as refused:
        compile_patterns(text)
    message = str(refused.value)
    assert fragment in message
    assert "\n" not in message


def test_the_line_names_which_pattern_is_bad() -> None:
    with pytest.raises(
        FilterPatternError, match=r"^pattern 2 of 2 \{\"value\":\{\"a\":\[\{\"wildcard\""
    ):
        compile_patterns('[{"value": {"a": [1]}}, {"value": {"a": [{"wildcard": "x*"}]}}]')


def test_no_setting_and_blank_mean_no_patterns() -> None:
    assert compile_patterns("") == []
    assert compile_patterns("  ") == []
