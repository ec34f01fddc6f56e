"""Avro bodies to JSON. Bodies are written by fastavro's writer from Python values, as a Python
producer writes them (or from raw underlying values, for edges no producer library reaches);
the expected JSON is written out by hand."""

from __future__ import annotations

import datetime
import io
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import given
from hypothesis import strategies as st

from consumer.schemas.avro import avro_decoder
from consumer.schemas.model import (
    RegisteredSchema,
    SchemaFormat,
    UndecodableRecord,
    UnusableSchema,
)

UTC = datetime.UTC


def registered(schema: Any, references: dict[str, Any] | None = None) -> RegisteredSchema:
    return RegisteredSchema(
        SchemaFormat.AVRO,
        json.dumps(schema),
        {name: json.dumps(text) for name, text in (references or {}).items()},
    )


def written(schema: Any, datum: Any, references: dict[str, Any] | None = None) -> bytes:
    named: dict[str, Any] = {}
    for reference in (references or {}).values():
        parse_schema(reference, named_schemas=named)
    buffer = io.BytesIO()
    schemaless_writer(buffer, parse_schema(schema, named_schemas=named), datum)
    return buffer.getvalue()


def decoded(schema: Any, datum: Any, references: dict[str, Any] | None = None) -> Any:
    body = written(schema, datum, references)
    return json.loads(avro_decoder(registered(schema, references)).to_json(body))


def record(*fields: tuple[str, Any], name: str = "R") -> dict[str, Any]:
    return {
        "type": "record",
        "name": name,
        "fields": [{"name": field, "type": kind} for field, kind in fields],
    }


def logical(underlying: str, logical_type: str, **attributes: Any) -> dict[str, Any]:
    return {"type": underlying, "logicalType": logical_type, **attributes}


# Records, collections, unions


ORDER = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "paid", "type": "boolean"},
        {"name": "ratio", "type": "float"},
        {"name": "customer", "type": record(("name", "string"), ("age", "int"), name="Person")},
        {"name": "state", "type": {"type": "enum", "name": "State", "symbols": ["NEW", "PAID"]}},
        {"name": "lines", "type": {"type": "array", "items": "shop.Person"}},
        {"name": "attributes", "type": {"type": "map", "values": "long"}},
        {"name": "note", "type": ["null", "string"]},
    ],
}


def test_record_with_nested_record_enum_array_map_and_union_becomes_plain_json() -> None:
    datum = {
        "id": 2**40,
        "paid": True,
        "ratio": 0.5,
        "customer": {"name": "Ada", "age": 36},
        "state": "PAID",
        "lines": [{"name": "x", "age": 1}],
        "attributes": {"weight": -3},
        "note": "fragile",
    }
    assert decoded(ORDER, datum) == datum


def test_record_fields_keep_schema_order_in_the_json_text() -> None:
    schema = record(("zeta", "int"), ("alpha", "int"))
    body = written(schema, {"alpha": 1, "zeta": 2})
    assert avro_decoder(registered(schema)).to_json(body) == b'{"zeta":2,"alpha":1}'


def test_null_branch_of_a_union_is_json_null() -> None:
    schema = record(("note", ["null", "string"]))
    assert decoded(schema, {"note": None}) == {"note": None}


def test_union_value_is_plain_not_wrapped_in_its_type_name() -> None:
    cat = record(("lives", "int"), name="Cat")
    dog = record(("good", "boolean"), name="Dog")
    schema = record(("pet", ["null", "string", cat, dog]), ("other", ["long", "string"]))
    assert decoded(schema, {"pet": ("Dog", {"good": True}), "other": "x"}) == {
        "pet": {"good": True},
        "other": "x",
    }
    assert decoded(schema, {"pet": "stray", "other": 5}) == {"pet": "stray", "other": 5}


def test_bytes_and_fixed_are_base64() -> None:
    schema = record(("raw", "bytes"), ("hash", {"type": "fixed", "name": "H", "size": 4}))
    assert decoded(schema, {"raw": b"\x00\xff\xfe", "hash": b"\xde\xad\xbe\xef"}) == {
        "raw": "AP/+",
        "hash": "3q2+7w==",
    }


def test_non_finite_floats_are_strings_and_finite_ones_numbers() -> None:
    schema = record(("a", "double"), ("b", "float"), ("c", "double"), ("d", ["null", "double"]))
    datum = {"a": float("nan"), "b": float("inf"), "c": -1.25, "d": float("-inf")}
    assert decoded(schema, datum) == {"a": "NaN", "b": "Infinity", "c": -1.25, "d": "-Infinity"}


def test_strings_keep_any_unicode() -> None:
    text = 'naïve 日本語 🦀 \u2028 \x00 "quoted" \\'
    schema = record(("text", "string"), ("tags", {"type": "map", "values": "string"}))
    assert decoded(schema, {"text": text, "tags": {"🔑": text}}) == {
        "text": text,
        "tags": {"🔑": text},
    }


def test_schema_that_is_a_primitive_gives_a_json_scalar() -> None:
    assert avro_decoder(registered("string")).to_json(written("string", "k-1")) == b'"k-1"'


# Logical types


def test_logical_types_written_by_a_producer_library_become_iso_and_exact_text() -> None:
    schema = record(
        ("id", logical("string", "uuid")),
        ("price", logical("bytes", "decimal", precision=10, scale=2)),
        ("day", logical("int", "date")),
        ("opens", logical("int", "time-millis")),
        ("closes", logical("long", "time-micros")),
        ("placed", logical("long", "timestamp-millis")),
        ("shipped", logical("long", "timestamp-micros")),
        ("local", logical("long", "local-timestamp-millis")),
    )
    datum = {
        "id": "9a1f1c39-7c43-4b3e-a5f0-1c8d3b0f2e11",
        "price": Decimal("-12.30"),
        "day": datetime.date(2024, 2, 29),
        "opens": datetime.time(9, 5, 7, 125_000),
        "closes": datetime.time(17, 30, 0, 1),
        "placed": datetime.datetime(2024, 2, 29, 13, 45, 0, 125_000, tzinfo=UTC),
        "shipped": datetime.datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        "local": datetime.datetime(2024, 2, 29, 13, 45),
    }
    assert decoded(schema, datum) == {
        "id": "9a1f1c39-7c43-4b3e-a5f0-1c8d3b0f2e11",
        "price": "-12.30",
        "day": "2024-02-29",
        "opens": "09:05:07.125",
        "closes": "17:30:00.000001",
        "placed": "2024-02-29T13:45:00.125Z",
        "shipped": "1969-12-31T23:59:59.999999Z",
        "local": "2024-02-29T13:45:00.000",
    }


@pytest.mark.parametrize(
    ("unscaled", "scale", "text"),
    [
        (1230, 2, "12.30"),
        (-5, 2, "-0.05"),
        (0, 3, "0.000"),
        (7, 0, "7"),
        (10**38 - 1, 10, "9999999999999999999999999999.9999999999"),  # past float64's digits
    ],
)
def test_decimal_is_plain_text_with_exactly_scale_decimals(
    unscaled: int, scale: int, text: str
) -> None:
    raw = unscaled.to_bytes(17, "big", signed=True)  # two's complement, as Java writes it
    written_schema = record(("amount", "bytes"))
    schema = record(("amount", logical("bytes", "decimal", precision=38, scale=scale)))
    body = written(written_schema, {"amount": raw})
    assert json.loads(avro_decoder(registered(schema)).to_json(body)) == {"amount": text}


def test_decimal_in_fixed_and_in_a_union_and_an_array() -> None:
    money = {
        "type": "fixed",
        "name": "Money",
        "size": 8,
        "logicalType": "decimal",
        "precision": 18,
        "scale": 2,
    }
    schema = record(
        ("price", money),
        ("discount", ["null", "Money"]),
        (
            "parts",
            {
                "type": "array",
                "items": logical("bytes", "decimal", precision=9, scale=1),
            },
        ),
    )
    datum = {"price": Decimal("19.99"), "discount": Decimal("-0.50"), "parts": [Decimal("1.5")]}
    assert decoded(schema, datum) == {"price": "19.99", "discount": "-0.50", "parts": ["1.5"]}


def test_decimal_with_more_digits_than_its_precision_is_not_rounded() -> None:
    written_schema = record(("amount", "bytes"))
    schema = record(("amount", logical("bytes", "decimal", precision=3, scale=2)))
    body = written(written_schema, {"amount": (123456).to_bytes(3, "big", signed=True)})
    assert json.loads(avro_decoder(registered(schema)).to_json(body)) == {"amount": "1234.56"}


@pytest.mark.parametrize(
    ("millis", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
        (-62_135_596_800_001, "0000-12-31T23:59:59.999Z"),
        (253_402_300_800_000, "+10000-01-01T00:00:00.000Z"),
        # java.time's Instant.ofEpochMilli(Long.MIN_VALUE / MAX_VALUE).toString()
        (-(2**63), "-292275055-05-16T16:47:04.192Z"),
        (2**63 - 1, "+292278994-08-17T07:12:55.807Z"),
    ],
)
def test_timestamps_beyond_years_1_to_9999_use_expanded_iso_years(millis: int, text: str) -> None:
    written_schema = record(("at", "long"))
    schema = record(("at", logical("long", "timestamp-millis")))
    body = written(written_schema, {"at": millis})
    assert json.loads(avro_decoder(registered(schema)).to_json(body)) == {"at": text}


@pytest.mark.parametrize(
    ("days", "text"),
    [
        (0, "1970-01-01"),
        (-719_162, "0001-01-01"),
        (-719_163, "0000-12-31"),
        (2_932_896, "9999-12-31"),
        (2_932_897, "+10000-01-01"),
        (-(2**31), "-5877641-06-23"),
    ],
)
def test_dates_of_any_int_day_count_are_iso(days: int, text: str) -> None:
    body = written(record(("day", "int")), {"day": days})
    schema = record(("day", logical("int", "date")))
    assert json.loads(avro_decoder(registered(schema)).to_json(body)) == {"day": text}


def test_nanosecond_and_local_timestamps_keep_all_their_digits() -> None:
    written_schema = record(("a", "long"), ("b", "long"), ("c", "long"))
    schema = record(
        ("a", logical("long", "timestamp-nanos")),
        ("b", logical("long", "local-timestamp-nanos")),
        ("c", logical("long", "local-timestamp-micros")),
    )
    body = written(written_schema, {"a": 1_709_214_300_123_456_789, "b": -1, "c": 1})
    assert json.loads(avro_decoder(registered(schema)).to_json(body)) == {
        "a": "2024-02-29T13:45:00.123456789Z",
        "b": "1969-12-31T23:59:59.999999999",
        "c": "1970-01-01T00:00:00.000001",
    }


def test_uuid_in_fixed_duration_and_unknown_logical_types() -> None:
    written_schema = record(
        ("id", {"type": "fixed", "name": "Id", "size": 16}),
        ("wait", {"type": "fixed", "name": "Wait", "size": 12}),
        ("colour", "string"),
        ("cents", "bytes"),
    )
    schema = record(
        ("id", {"type": "fixed", "name": "Id", "size": 16, "logicalType": "uuid"}),
        ("wait", {"type": "fixed", "name": "Wait", "size": 12, "logicalType": "duration"}),
        ("colour", logical("string", "rgb-colour")),
        ("cents", logical("bytes", "decimal", precision=2, scale=3)),  # malformed: ignored
    )
    wait = (14).to_bytes(4, "little") + (3).to_bytes(4, "little") + (90_000).to_bytes(4, "little")
    datum = {"id": uuid.UUID(int=1).bytes, "wait": wait, "colour": "#ff0000", "cents": b"\x01"}
    body = written(written_schema, datum)
    assert json.loads(avro_decoder(registered(schema)).to_json(body)) == {
        "id": "00000000-0000-0000-0000-000000000001",
        "wait": {"months": 14, "days": 3, "milliseconds": 90_000},
        "colour": "#ff0000",
        "cents": "AQ==",
    }


def test_logical_values_inside_maps_and_nested_unions_are_converted() -> None:
    at = logical("long", "timestamp-millis")
    schema = record(("seen", {"type": "map", "values": ["null", at]}))
    datum = {"seen": {"a": datetime.datetime(2000, 1, 1, tzinfo=UTC), "b": None}}
    assert decoded(schema, datum) == {"seen": {"a": "2000-01-01T00:00:00.000Z", "b": None}}


def test_output_is_stable_for_the_same_body() -> None:
    schema = record(("at", logical("long", "timestamp-micros")), ("x", "double"))
    body = written(schema, {"at": datetime.datetime(2024, 1, 1, tzinfo=UTC), "x": 1.0})
    decoder = avro_decoder(registered(schema))
    assert (
        decoder.to_json(body)
        == decoder.to_json(body)
        == (b'{"at":"2024-01-01T00:00:00.000000Z","x":1.0}')
    )


# References and recursion


ADDRESS = {
    "type": "record",
    "name": "Address",
    "namespace": "com.acme",
    "fields": [{"name": "city", "type": "string"}, {"name": "zone", "type": "com.acme.Zone"}],
}
ZONE = {"type": "enum", "name": "Zone", "namespace": "com.acme", "symbols": ["EU", "US"]}


def test_named_types_come_from_references_in_any_order() -> None:
    schema = record(("home", "com.acme.Address"), ("work", ["null", "com.acme.Address"]))
    datum = {"home": {"city": "Oslo", "zone": "EU"}, "work": None}
    body = written(schema, datum, {"zone-value": ZONE, "address-value": ADDRESS})
    references = {"address-value": ADDRESS, "zone-value": ZONE}  # Address needs Zone first
    assert json.loads(avro_decoder(registered(schema, references)).to_json(body)) == datum


def test_schema_naming_a_type_no_reference_defines_is_unusable() -> None:
    with pytest.raises(UnusableSchema, match=r"com\.acme\.Address"):
        avro_decoder(registered(record(("home", "com.acme.Address"))))
    with pytest.raises(UnusableSchema, match="no reference defines"):
        avro_decoder(registered(record(("home", "com.acme.Address")), {"a": ADDRESS}))


LIST = {
    "type": "record",
    "name": "Node",
    "fields": [
        {"name": "label", "type": "string"},
        {"name": "at", "type": logical("long", "timestamp-millis")},
        {"name": "next", "type": ["null", "Node"]},
    ],
}


def linked(depth: int, label: str = "n") -> dict[str, Any] | None:
    node = None
    for _ in range(depth):
        node = {"label": label, "at": datetime.datetime(2000, 1, 1, tzinfo=UTC), "next": node}
    return node


def test_recursive_schema_decodes_nested_values() -> None:
    assert decoded(LIST, linked(2)) == {
        "label": "n",
        "at": "2000-01-01T00:00:00.000Z",
        "next": {"label": "n", "at": "2000-01-01T00:00:00.000Z", "next": None},
    }


def test_recursive_schema_decodes_long_bodies_too() -> None:
    # Past the body length where the compiled reader is trusted: the pure-Python reader runs.
    label = "x" * 2000
    assert decoded(LIST, linked(3, label))["next"]["next"]["label"] == label


def test_deep_nesting_is_undecodable_not_a_crash() -> None:
    # About 5,000 levels overflow the C stack of fastavro's compiled reader.
    body = b"\x00\x00\x02" * 20_000 + b"\x00\x00\x00"  # label "", at 0, next: a Node
    with pytest.raises(UndecodableRecord, match="nests too deeply"):
        avro_decoder(registered(LIST)).to_json(body)


# Bodies that do not fit


SECRET_RECORD = record(("pin", "string"), ("choice", ["null", "string"]), ("n", "long"))
SECRET_BODY = written(SECRET_RECORD, {"pin": "secret-1234", "choice": "s3cret", "n": 1})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (SECRET_BODY[:-1], "ends early"),
        (SECRET_BODY[:5], "ends early"),
        (b"", "ends early"),
        (SECRET_BODY + b"\x00\x01", "2 bytes left over"),
        (SECRET_BODY.replace(b"\x02\x0cs3cret", b"\x06\x0cs3cret"), "union branch"),
        (SECRET_BODY.replace(b"secret", b"s\xffcret"), "not valid UTF-8"),
        (SECRET_BODY.replace(b"\x16secret", b"\x15secret"), "ends early"),  # negative length
    ],
)
def test_body_that_does_not_fit_is_undecodable_and_the_reason_hides_the_contents(
    body: bytes, reason: str
) -> None:
    with pytest.raises(UndecodableRecord) as raised:
        avro_decoder(registered(SECRET_RECORD)).to_json(body)
    assert reason in raised.value.reason
    assert "cret" not in raised.value.reason
    assert raised.value.__cause__ is None  # nor any context: no traceback holds the bytes
    assert raised.value.__context__ is None or raised.value.__suppress_context__


def test_enum_index_outside_the_symbols_is_undecodable() -> None:
    schema = record(("state", {"type": "enum", "name": "S", "symbols": ["A"]}))
    with pytest.raises(UndecodableRecord, match="enum symbol"):
        avro_decoder(registered(schema)).to_json(b"\x02")


def test_time_of_day_outside_one_day_is_undecodable_and_names_its_field() -> None:
    shift = {
        "type": "record",
        "name": "Shift",
        "namespace": "hr",
        "fields": [
            {"name": "start", "type": logical("int", "time-millis")},
        ],
    }
    body = written(record(("start", "int"), name="hr.Shift"), {"start": 86_400_000})
    with pytest.raises(UndecodableRecord, match=r"hr\.Shift\.start is outside one day"):
        avro_decoder(registered(shift)).to_json(body)


def test_decimal_without_bytes_is_undecodable() -> None:
    schema = record(("amount", logical("bytes", "decimal", precision=4, scale=2)))
    with pytest.raises(UndecodableRecord, match=r"R\.amount has no bytes"):
        avro_decoder(registered(schema)).to_json(b"\x00")


@given(st.binary(max_size=80))
def test_any_body_gives_json_or_an_undecodable_record(body: bytes) -> None:
    decoder = avro_decoder(
        registered({**ORDER, "fields": [*ORDER["fields"], *LIST["fields"][1:2]]})
    )
    try:
        json.loads(decoder.to_json(body))
    except UndecodableRecord as error:
        reason = error.reason
    else:
        return
    assert "\n" not in reason


# Schemas that cannot be used


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "not JSON"),
        ('{"type": "fixed", "name": "F"}', "lacks its 'size' attribute"),
        ('{"type": "enum", "name": "E", "symbols": ["A", "A"]}', "symbols in an enum must be"),
        ('{"type": "wibble"}', "'wibble', defined nowhere"),
        (
            json.dumps(["null", logical("int", "date"), logical("long", "timestamp-millis")]),
            "two int branches",
        ),
    ],
)
def test_schema_fastavro_cannot_use_is_unusable(text: str, reason: str) -> None:
    with pytest.raises(UnusableSchema, match=reason):
        avro_decoder(RegisteredSchema(SchemaFormat.AVRO, text))


def test_default_values_shaped_like_logical_types_are_left_alone() -> None:
    # A field named "logicalType", with a default: only schema positions lose the key.
    tag = record(("logicalType", "string"), name="Tag")
    schema = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "tag", "type": tag, "default": {"logicalType": "date"}}],
    }
    assert decoded(schema, {"tag": {"logicalType": "date"}}) == {"tag": {"logicalType": "date"}}
