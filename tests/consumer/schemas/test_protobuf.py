"""Protobuf decoding: schemas compiled by the real protoc, bodies framed by hand per each
registry's spec, expected JSON written out from the values the test put in."""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, json_format
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.schemas.model import (
    FramingError,
    RegisteredSchema,
    SchemaFormat,
    UndecodableRecord,
    UnusableSchema,
)
from consumer.schemas.proto_compile import compile_proto
from consumer.schemas.protobuf import ProtobufDecoder, protobuf_decoder

REPO = Path(__file__).resolve().parents[3]

ORDERS_PROTO = """
syntax = "proto3";
package shop.v1;

import "google/protobuf/timestamp.proto";

enum Status {
  STATUS_UNSPECIFIED = 0;
  PLACED = 1;
  SHIPPED = 2;
}

message Order {
  string order_id = 1;
  int64 total_cents = 2;
  uint32 item_count = 3;
  Status status = 4;
  google.protobuf.Timestamp placed_at = 5;
  Customer customer = 6;
  repeated Line lines = 7;
  map<string, int32> stock_by_warehouse = 8;
  oneof payment {
    Card card = 9;
    string voucher_code = 10;
  }
  bytes signature = 11;
  bool gift = 12;
  double weight_kg = 13;
  repeated string tags = 14;

  message Line {
    string sku = 1;
    int32 quantity = 2;
    fixed64 unit_price_micros = 3;
  }
  message Card {
    string last4 = 1;
  }
}

message Customer {
  string name = 1;
  sint64 loyalty_points = 2;
  Address address = 3;
  message Address {
    string city = 1;
    string postcode = 2;
  }
}
"""


def proto(text: str, references: dict[str, str] | None = None) -> RegisteredSchema:
    return RegisteredSchema(SchemaFormat.PROTOBUF, text, references or {})


def message_class(schema: RegisteredSchema, full_name: str) -> type[Message]:
    """The writer's class, from a compilation of its own (a pool apart from the decoder's)."""
    return GetMessageClass(compile_proto(schema).pool.FindMessageTypeByName(full_name))


def zigzag_varint(value: int) -> bytes:
    return unsigned_varint((value << 1) ^ (value >> 63))


def unsigned_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def confluent_body(message: Message, indexes: list[int]) -> bytes:
    """Confluent's framing after the 5-byte header: [0] as the single byte 0, otherwise the
    count and each index, all zigzag varints."""
    if indexes == [0]:
        prefix = b"\x00"
    else:
        prefix = zigzag_varint(len(indexes)) + b"".join(zigzag_varint(i) for i in indexes)
    return prefix + message.SerializeToString()


def glue_body(message: Message, index: int) -> bytes:
    """Glue's framing after its 18-byte header: one plain varint, then the message."""
    return unsigned_varint(index) + message.SerializeToString()


def decoded(decoder: ProtobufDecoder, body: bytes) -> Any:
    return json.loads(decoder.to_json(body))


@pytest.fixture(scope="module")
def orders() -> ProtobufDecoder:
    return protobuf_decoder(proto(ORDERS_PROTO))


@pytest.fixture(scope="module")
def order_class() -> type[Message]:
    return message_class(proto(ORDERS_PROTO), "shop.v1.Order")


def test_a_rich_message_becomes_the_proto3_json_of_its_values_with_proto_field_names(
    orders: ProtobufDecoder, order_class: type[Message]
) -> None:
    order = order_class(
        order_id="o-1",
        total_cents=9_007_199_254_740_993,  # past 2**53: only a string keeps every digit
        item_count=3,
        status=2,  # SHIPPED
        customer={
            "name": "Ada",
            "loyalty_points": -12,
            "address": {"city": "Lyon", "postcode": "69001"},
        },
        lines=[
            {"sku": "A-1", "quantity": 2, "unit_price_micros": 1_500_000},
            {"sku": "B-2", "quantity": 1},
        ],
        stock_by_warehouse={"north": 4, "south": 0},
        card={"last4": "4242"},
        signature=b"\x00\xffsig",
        gift=True,
        weight_kg=1.25,
        tags=["fragile", "express"],
    )
    order.placed_at.FromJsonString("2024-05-01T12:30:45.250Z")

    assert decoded(orders, confluent_body(order, [0])) == {
        "order_id": "o-1",
        "total_cents": "9007199254740993",
        "item_count": 3,
        "status": "SHIPPED",
        "placed_at": "2024-05-01T12:30:45.250Z",
        "customer": {
            "name": "Ada",
            "loyalty_points": "-12",
            "address": {"city": "Lyon", "postcode": "69001"},
        },
        "lines": [
            {"sku": "A-1", "quantity": 2, "unit_price_micros": "1500000"},
            {"sku": "B-2", "quantity": 1},
        ],
        "stock_by_warehouse": {"north": 4, "south": 0},
        "card": {"last4": "4242"},
        "signature": "AP9zaWc=",
        "gift": True,
        "weight_kg": 1.25,
        "tags": ["fragile", "express"],
    }


def test_fields_at_their_default_are_left_out_but_a_set_oneof_member_is_kept(
    orders: ProtobufDecoder, order_class: type[Message]
) -> None:
    order = order_class(order_id="", total_cents=0, status=0, voucher_code="")
    assert decoded(orders, confluent_body(order, [0])) == {"voucher_code": ""}


def test_an_empty_message_is_an_empty_object(
    orders: ProtobufDecoder, order_class: type[Message]
) -> None:
    assert orders.to_json(confluent_body(order_class(), [0])) == b"{}"


def test_the_json_is_compact_utf8_text(orders: ProtobufDecoder, order_class: type[Message]) -> None:
    body = confluent_body(order_class(order_id="café", item_count=2, tags=["a", "b"]), [0])
    assert orders.to_json(body) == '{"order_id":"café","item_count":2,"tags":["a","b"]}'.encode()


def test_an_enum_number_the_schema_does_not_name_is_written_as_the_number(
    orders: ProtobufDecoder, order_class: type[Message]
) -> None:
    assert decoded(orders, confluent_body(order_class(status=7), [0])) == {"status": 7}


def test_unknown_fields_from_a_newer_schema_are_skipped(orders: ProtobufDecoder) -> None:
    field_99_varint = unsigned_varint(99 << 3 | 0) + b"\x05"
    body = b"\x00" + b"\x0a\x03o-1" + field_99_varint
    assert decoded(orders, body) == {"order_id": "o-1"}


def test_a_field_written_with_another_wire_type_is_kept_unknown_and_left_out(
    orders: ProtobufDecoder,
) -> None:
    order_id_as_varint = unsigned_varint(1 << 3 | 0) + b"\x05"  # order_id is a string
    assert decoded(orders, b"\x00" + order_id_as_varint + b"\x60\x01") == {"gift": True}


def test_non_finite_doubles_are_the_json_mapping_strings(
    orders: ProtobufDecoder, order_class: type[Message]
) -> None:
    for value, text in [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity")]:
        body = confluent_body(order_class(weight_kg=value), [0])
        assert decoded(orders, body) == {"weight_kg": text}


WELL_KNOWN_PROTO = """
syntax = "proto3";
package wk;

import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/empty.proto";
import "google/protobuf/field_mask.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

message Envelope {
  google.protobuf.Duration ttl = 1;
  google.protobuf.Struct attributes = 2;
  google.protobuf.Value loose = 3;
  google.protobuf.Int64Value big = 4;
  google.protobuf.StringValue label = 5;
  google.protobuf.BoolValue flag = 6;
  google.protobuf.Any detail = 7;
  google.protobuf.FieldMask mask = 8;
  google.protobuf.Empty nothing = 9;
  google.protobuf.Timestamp at = 10;
  google.protobuf.ListValue items = 11;
}

message Detail {
  string note = 1;
}
"""


def test_well_known_types_take_their_json_forms() -> None:
    schema = proto(WELL_KNOWN_PROTO)
    envelope_class = message_class(schema, "wk.Envelope")
    detail_class = message_class(schema, "wk.Detail")
    envelope = envelope_class()
    envelope.ttl.FromJsonString("90.5s")
    envelope.attributes.update({"region": "eu", "retries": 3, "ok": True, "none": None})
    envelope.loose.string_value = "free"
    envelope.big.value = -(2**40)
    envelope.label.value = ""  # a wrapper set to its default is still written
    envelope.flag.value = False
    envelope.detail.Pack(detail_class(note="n"))
    envelope.mask.paths.extend(["customer.first_name", "lines"])
    envelope.nothing.SetInParent()
    envelope.at.FromJsonString("1970-01-01T00:00:00Z")
    envelope.items.extend([1, "two"])

    assert decoded(protobuf_decoder(schema), confluent_body(envelope, [0])) == {
        "ttl": "90.500s",
        "attributes": {"region": "eu", "retries": 3, "ok": True, "none": None},
        "loose": "free",
        "big": "-1099511627776",
        "label": "",
        "flag": False,
        "detail": {"@type": "type.googleapis.com/wk.Detail", "note": "n"},
        "mask": "customer.firstName,lines",
        "nothing": {},
        "at": "1970-01-01T00:00:00Z",
        "items": [1, "two"],
    }


def _pack_unknown_type(envelope: Any) -> None:
    envelope.detail.type_url = "type.googleapis.com/elsewhere.Unknown"


def _timestamp_past_year_9999(envelope: Any) -> None:
    envelope.at.seconds = 253_402_300_800  # 10000-01-01T00:00:00Z


def _infinite_value(envelope: Any) -> None:
    envelope.loose.number_value = math.inf


@pytest.mark.parametrize(
    ("set_value", "reason"),
    [
        (_pack_unknown_type, "a google.protobuf.Any in the record has no JSON form: it packs"),
        (_timestamp_past_year_9999, "a google.protobuf.Timestamp in the record has no JSON form"),
        (_infinite_value, "a google.protobuf.Value in the record has no JSON form"),
    ],
)
def test_a_well_known_value_without_a_json_form_is_undecodable_without_the_value(
    set_value: Any, reason: str
) -> None:
    schema = proto(WELL_KNOWN_PROTO)
    envelope = message_class(schema, "wk.Envelope")()
    set_value(envelope)
    with pytest.raises(UndecodableRecord) as raised:
        protobuf_decoder(schema).to_json(confluent_body(envelope, [0]))
    assert raised.value.reason.startswith(reason)
    for value_text in ("elsewhere", "253402300800", "10000", "Infinity"):
        assert value_text not in raised.value.reason


SEVERAL_PROTO = """
syntax = "proto3";
package multi;

message First {
  string a = 1;
}
message Second {
  map<string, string> labels = 1;
  message Inner {
    string b = 1;
    message Deepest {
      string c = 1;
    }
  }
  message Other {
    string d = 1;
  }
}
enum NotAMessage {
  NOT_A_MESSAGE_UNSPECIFIED = 0;
}
message Third {
  string e = 1;
}
"""


@pytest.mark.parametrize(
    ("full_name", "indexes", "values"),
    [
        ("multi.First", [0], {"a": "1st"}),
        ("multi.Second", [1], {"labels": {"k": "v"}}),
        ("multi.Third", [2], {"e": "3rd"}),  # the enum between is not counted
        # The map field's entry type comes first among Second's nested types, but Confluent
        # counts declared messages only: Inner is [1, 0].
        ("multi.Second.Inner", [1, 0], {"b": "in"}),
        ("multi.Second.Inner.Deepest", [1, 0, 0], {"c": "deep"}),
        ("multi.Second.Other", [1, 1], {"d": "other"}),
    ],
)
def test_confluent_message_indexes_select_the_message_within_the_file(
    full_name: str, indexes: list[int], values: dict[str, Any]
) -> None:
    schema = proto(SEVERAL_PROTO)
    message = message_class(schema, full_name)(**values)
    assert decoded(protobuf_decoder(schema), confluent_body(message, indexes)) == values


def test_confluent_first_message_may_also_be_written_as_a_list_of_one() -> None:
    schema = proto(SEVERAL_PROTO)
    body = (
        zigzag_varint(1)
        + zigzag_varint(0)
        + message_class(schema, "multi.First")(a="x").SerializeToString()
    )
    assert decoded(protobuf_decoder(schema), body) == {"a": "x"}


@pytest.mark.parametrize(
    ("full_name", "glue_index", "values"),
    [
        # Every message by full name: First, Second, Second.Inner, Second.Inner.Deepest,
        # Second.LabelsEntry, Second.Other, Third.
        ("multi.First", 0, {"a": "1st"}),
        ("multi.Second", 1, {"labels": {"k": "v"}}),
        ("multi.Second.Inner", 2, {"b": "in"}),
        ("multi.Second.Inner.Deepest", 3, {"c": "deep"}),
        ("multi.Second.Other", 5, {"d": "other"}),
        ("multi.Third", 6, {"e": "3rd"}),
    ],
)
def test_glue_message_index_is_the_position_among_all_messages_sorted_by_full_name(
    full_name: str, glue_index: int, values: dict[str, Any]
) -> None:
    schema = proto(SEVERAL_PROTO)
    message = message_class(schema, full_name)(**values)
    decoder = protobuf_decoder(schema, framing="glue")
    assert decoded(decoder, glue_body(message, glue_index)) == values


def test_imports_resolve_against_the_referenced_texts_at_their_import_paths() -> None:
    money = (
        'syntax = "proto3"; package com.acme.money;'
        " message Money { string currency = 1; int64 units = 2; }"
    )
    unit = 'syntax = "proto3"; package com.acme; enum Unit { UNIT_UNSPECIFIED = 0; KG = 1; }'
    schema = proto(
        """
        syntax = "proto3";
        package com.acme.sales;
        import "com/acme/money/money.proto";
        import "unit.proto";
        message Sale { com.acme.money.Money price = 1; com.acme.Unit unit = 2; }
        """,
        {"com/acme/money/money.proto": money, "unit.proto": unit},
    )
    sale = message_class(schema, "com.acme.sales.Sale")(
        price={"currency": "EUR", "units": 12}, unit=1
    )
    assert decoded(protobuf_decoder(schema), confluent_body(sale, [0])) == {
        "price": {"currency": "EUR", "units": "12"},
        "unit": "KG",
    }


def serialized(file_proto_text: str, name: str) -> str:
    """A schema in the registries' serialized form: its FileDescriptorProto, base64."""
    compiled = compile_proto(proto(file_proto_text)).file
    file_proto = descriptor_pb2.FileDescriptorProto()
    compiled.CopyToProto(file_proto)
    file_proto.name = name
    return base64.b64encode(file_proto.SerializeToString()).decode()


def test_a_serialized_schema_decodes_with_well_known_and_referenced_imports() -> None:
    # What Confluent's Python serializer registers: base64 FileDescriptorProtos, the
    # referenced file too; here the reference is .proto text, which a registry may hold.
    money = (
        'syntax = "proto3"; package com.acme.money;'
        " message Money { string currency = 1; int64 units = 2; }"
    )
    sale_text = """
        syntax = "proto3";
        package com.acme.sales;
        import "google/protobuf/timestamp.proto";
        import "com/acme/money/money.proto";
        message Sale { com.acme.money.Money price = 1; google.protobuf.Timestamp at = 2; }
        """
    as_text = proto(sale_text, {"com/acme/money/money.proto": money})
    writer = message_class(as_text, "com.acme.sales.Sale")
    sale = writer(price={"currency": "EUR", "units": 12}, at={"seconds": 1_700_000_000})
    expected = {"price": {"currency": "EUR", "units": "12"}, "at": "2023-11-14T22:13:20Z"}
    compiled = compile_proto(as_text).file
    sale_file = descriptor_pb2.FileDescriptorProto()
    compiled.CopyToProto(sale_file)
    sale_file.name = "com/acme/sales/sale.proto"
    sale_serialized = base64.b64encode(sale_file.SerializeToString()).decode()

    for money_form in (money, serialized(money, "com/acme/money/money.proto")):
        schema = proto(sale_serialized, {"com/acme/money/money.proto": money_form})
        assert decoded(protobuf_decoder(schema), confluent_body(sale, [0])) == expected


def test_a_serialized_schema_importing_what_no_reference_holds_is_unusable() -> None:
    lonely = 'syntax = "proto3"; package p; import "other.proto"; message M { o.O x = 1; }'
    other = 'syntax = "proto3"; package o; message O { string s = 1; }'
    compiled = compile_proto(proto(lonely, {"other.proto": other})).file
    file_proto = descriptor_pb2.FileDescriptorProto()
    compiled.CopyToProto(file_proto)
    without_reference = proto(base64.b64encode(file_proto.SerializeToString()).decode(), {})
    with pytest.raises(UnusableSchema, match=r"'other\.proto' is not among the schema's"):
        protobuf_decoder(without_reference)


def test_a_registry_copy_of_a_well_known_type_is_not_needed_nor_used() -> None:
    schema = proto(
        'syntax = "proto3"; import "google/protobuf/timestamp.proto";'
        " message Seen { google.protobuf.Timestamp at = 1; }",
        {"google/protobuf/timestamp.proto": "this text is never compiled"},
    )
    seen = message_class(proto(schema.text), "Seen")()
    seen.at.FromJsonString("2030-01-02T03:04:05Z")
    assert decoded(protobuf_decoder(schema), confluent_body(seen, [0])) == {
        "at": "2030-01-02T03:04:05Z"
    }


PROTO2 = """
syntax = "proto2";
package legacy;
message Reading {
  required string sensor = 1;
  optional int32 celsius = 2 [default = 20];
  optional int32 humidity = 3;
  repeated int32 samples = 4 [packed = true];
  optional Calibration calibration = 5;
}
message Calibration {
  required double offset = 1;
}
message Batch {
  repeated Reading readings = 1;
}
"""


def test_proto2_optional_fields_are_written_when_set_even_to_their_default() -> None:
    schema = proto(PROTO2)
    reading = message_class(schema, "legacy.Reading")(sensor="s1", celsius=20, samples=[1, 2])
    assert decoded(protobuf_decoder(schema), confluent_body(reading, [0])) == {
        "sensor": "s1",
        "celsius": 20,
        "samples": [1, 2],
    }


def test_proto2_message_missing_a_required_field_is_undecodable() -> None:
    schema = proto(PROTO2)
    reading = message_class(schema, "legacy.Reading")(celsius=3)
    body = b"\x00" + reading.SerializePartialToString()
    with pytest.raises(
        UndecodableRecord, match=r"legacy\.Reading message lacks required fields: sensor"
    ):
        protobuf_decoder(schema).to_json(body)


PROTO2_EXTENDED = """
syntax = "proto2";
package ext;
message Base {
  optional string a = 1;
  optional group Meta = 2 {
    optional string k = 1;
  }
  extensions 100 to 199;
}
extend Base {
  optional int64 big = 100;
  repeated string notes = 101;
}
"""


def test_proto2_extensions_are_bracketed_full_names_and_groups_their_field_names() -> None:
    schema = proto(PROTO2_EXTENDED)
    writer_pool = compile_proto(schema).pool
    base = GetMessageClass(writer_pool.FindMessageTypeByName("ext.Base"))(a="x", meta={"k": "v"})
    base.Extensions[writer_pool.FindExtensionByName("ext.big")] = 5
    base.Extensions[writer_pool.FindExtensionByName("ext.notes")].extend(["n1", "n2"])
    assert decoded(protobuf_decoder(schema), confluent_body(base, [0])) == {
        "a": "x",
        "meta": {"k": "v"},
        "[ext.big]": "5",
        "[ext.notes]": ["n1", "n2"],
    }


MAPS_AND_FLOATS_PROTO = """
syntax = "proto3";
message Sample {
  float ratio = 1;
  repeated float readings = 2;
  map<int64, string> by_id = 3;
  map<bool, int32> by_flag = 4;
  map<fixed32, Sample> children = 5;
}
"""


def test_float32_values_are_their_shortest_decimal_and_map_keys_are_strings() -> None:
    schema = proto(MAPS_AND_FLOATS_PROTO)
    sample_class = message_class(schema, "Sample")
    sample = sample_class(
        ratio=0.1,  # stored as 0.100000001490116...; written as 0.1
        readings=[3.4028234663852886e38, -1.5, 1e-45],
        by_id={-(2**62): "low", 7: "seven"},
        by_flag={True: 1, False: 0},
        children={4_000_000_000: sample_class(ratio=2.5)},
    )
    assert decoded(protobuf_decoder(schema), confluent_body(sample, [0])) == {
        "ratio": 0.1,
        "readings": [3.4028235e38, -1.5, 1.4013e-45],  # from 6 significant digits up
        "by_id": {"-4611686018427387904": "low", "7": "seven"},
        "by_flag": {"true": 1, "false": 0},
        "children": {"4000000000": {"ratio": 2.5}},
    }


def test_a_required_field_missing_deep_inside_the_message_is_undecodable() -> None:
    schema = proto(PROTO2)
    batch = message_class(schema, "legacy.Batch")(readings=[{"sensor": "s", "calibration": {}}])
    body = zigzag_varint(1) + zigzag_varint(2) + batch.SerializePartialToString()
    with pytest.raises(UndecodableRecord, match=r"legacy\.Batch message lacks required fields"):
        protobuf_decoder(schema).to_json(body)


PROTO3_OPTIONAL = """
syntax = "proto3";
message Counter { optional int32 value = 1; int32 plain = 2; }
"""


def test_proto3_optional_field_set_to_zero_is_written_and_a_plain_zero_is_not() -> None:
    schema = proto(PROTO3_OPTIONAL)
    counter = message_class(schema, "Counter")(value=0, plain=0)
    assert decoded(protobuf_decoder(schema), confluent_body(counter, [0])) == {"value": 0}


def test_two_versions_of_one_message_decode_side_by_side_each_with_its_schema() -> None:
    version_1 = proto('syntax = "proto3"; package inv; message Item { string sku = 1; }')
    version_2 = proto(
        'syntax = "proto3"; package inv; message Item { string sku = 1; int32 quantity = 2; }'
    )
    decoder_1, decoder_2 = protobuf_decoder(version_1), protobuf_decoder(version_2)
    written_by_2 = confluent_body(message_class(version_2, "inv.Item")(sku="A", quantity=5), [0])
    written_by_1 = confluent_body(message_class(version_1, "inv.Item")(sku="B"), [0])

    assert decoded(decoder_2, written_by_2) == {"sku": "A", "quantity": 5}
    assert decoded(decoder_1, written_by_2) == {"sku": "A"}  # quantity: unknown to version 1
    assert decoded(decoder_2, written_by_1) == {"sku": "B"}
    assert decoded(decoder_1, written_by_1) == {"sku": "B"}


# Errors: a reason names the message type and the fault, never the record's contents.

SECRET = "secret-card-holder"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "Protobuf message indexes end early"),
        (b"\x04\x02", "Protobuf message indexes end early"),  # two indexes, one given
        (b"\x80\x80", "Protobuf message indexes end early"),
        (b"\xff" * 6, "Protobuf message-index varint is longer than 5 bytes"),
        (b"\x03\x00", "Protobuf message-index count is -2, negative"),
        (b"\x02\x03", "Protobuf message index is -2, negative"),
        (b"\x02\x06", r"message index \[3\] names no message: the schema has 3 top-level"),
        (
            b"\x04\x02\x04",
            r"message index \[1, 2\] names no message: the schema has 2 nested in multi.Second",
        ),
    ],
)
def test_an_unreadable_or_unknown_confluent_message_index_is_undecodable(
    body: bytes, reason: str
) -> None:
    with pytest.raises(UndecodableRecord, match=reason):
        protobuf_decoder(proto(SEVERAL_PROTO)).to_json(body)


def test_a_glue_index_past_the_files_messages_is_undecodable() -> None:
    decoder = protobuf_decoder(proto(SEVERAL_PROTO), framing="glue")
    with pytest.raises(
        UndecodableRecord, match="message index 7 names no message: the schema has 7"
    ):
        decoder.to_json(b"\x07")
    with pytest.raises(FramingError, match="Protobuf message index ends early"):
        decoder.to_json(b"")
    with pytest.raises(FramingError, match="Protobuf message index is beyond 32 bits"):
        decoder.to_json(b"\xff\xff\xff\xff\x7f")


def test_an_unknown_framing_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="'confluent' or 'glue'"):
        protobuf_decoder(proto(SEVERAL_PROTO), framing="apicurio")  # type: ignore[arg-type]


def test_bytes_that_are_not_the_message_are_undecodable_without_their_contents(
    orders: ProtobufDecoder, order_class: type[Message]
) -> None:
    whole = order_class(order_id=SECRET, customer={"name": SECRET}).SerializeToString()
    truncated = b"\x00" + whole[:-3]
    invalid_wire_type = b"\x00" + whole + bytes([1 << 3 | 7])
    not_utf8_string = b"\x00" + b"\x0a\x02\xc3\x28"
    for body in (truncated, invalid_wire_type, not_utf8_string):
        with pytest.raises(UndecodableRecord) as raised:
            orders.to_json(body)
        assert raised.value.reason == (
            "the bytes are not a valid shop.v1.Order message "
            "(truncated, or written with another schema)"
        )
        assert SECRET not in str(raised.value)


# Schemas that cannot be compiled: one line, in protoc's words.


def test_a_schema_that_does_not_compile_is_unusable_with_protocs_error_on_one_line() -> None:
    with pytest.raises(UnusableSchema) as raised:
        protobuf_decoder(proto('syntax = "proto3";\nmessage A {\n  Missing m = 1;\n}\n'))
    assert raised.value.reason == 'registered_schema.proto:3:3: "Missing" is not defined.'


def test_a_syntax_error_is_unusable_and_protocs_warnings_are_left_out() -> None:
    with pytest.raises(UnusableSchema) as raised:
        protobuf_decoder(proto("this is not proto"))
    assert raised.value.reason.startswith("registered_schema.proto:1:1: Expected top-level")
    assert "\n" not in raised.value.reason
    assert "syntax specified" not in raised.value.reason


def test_an_import_missing_from_the_references_is_unusable() -> None:
    with pytest.raises(UnusableSchema, match=r"other\.proto: File not found"):
        protobuf_decoder(proto('syntax = "proto3"; import "other.proto"; message A {}'))


def test_a_reference_outside_the_import_tree_is_unusable() -> None:
    schema = proto('syntax = "proto3"; message A {}', {"../escape.proto": "syntax = 'proto3';"})
    with pytest.raises(UnusableSchema, match="not a relative import path"):
        protobuf_decoder(schema)


def test_a_schema_without_messages_is_unusable() -> None:
    with pytest.raises(UnusableSchema, match="defines no message"):
        protobuf_decoder(proto('syntax = "proto3"; enum E { E_UNSPECIFIED = 0; }'))


def test_compiling_writes_nothing_to_stderr_and_leaves_the_import_path_alone(
    capfd: pytest.CaptureFixture[str],
) -> None:
    path_before, finders_before = list(sys.path), list(sys.meta_path)
    # No syntax line and an unused import: protoc warns about both.
    protobuf_decoder(
        proto('import "google/protobuf/empty.proto"; message A { optional string s = 1; }')
    )
    with pytest.raises(UnusableSchema):
        protobuf_decoder(proto("message {"))
    assert capfd.readouterr().err == ""
    assert sys.path == path_before
    assert sys.meta_path == finders_before


# The table-driven conversion against json_format's own, over every kind of field.

KINDS_PROTO = """
syntax = "proto3";
package kinds;
import "google/protobuf/struct.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

enum Color {
  COLOR_UNSPECIFIED = 0;
  RED = 1;
  GREEN = 2;
}

message Kinds {
  double f_double = 1;
  float f_float = 2;
  int32 f_int32 = 3;
  int64 f_int64 = 4;
  uint32 f_uint32 = 5;
  uint64 f_uint64 = 6;
  sint32 f_sint32 = 7;
  sint64 f_sint64 = 8;
  fixed32 f_fixed32 = 9;
  fixed64 f_fixed64 = 10;
  sfixed32 f_sfixed32 = 11;
  sfixed64 f_sfixed64 = 12;
  bool f_bool = 13;
  string f_string = 14;
  bytes f_bytes = 15;
  Color f_color = 16;
  Kinds child = 17;
  repeated float r_float = 18;
  repeated int64 r_int64 = 19;
  repeated Color r_color = 20;
  repeated bytes r_bytes = 21;
  repeated Kinds r_child = 22;
  map<int64, string> m_int64 = 23;
  map<bool, Color> m_bool = 24;
  map<uint32, Kinds> m_child = 25;
  map<string, bytes> m_bytes = 26;
  map<sint32, double> m_double = 27;
  oneof choice {
    google.protobuf.NullValue f_null = 28;
    string s_choice = 29;
  }
  optional int32 o_int32 = 30;
  google.protobuf.Timestamp at = 31;
  google.protobuf.Value loose = 32;
  google.protobuf.Int64Value w_int64 = 33;
  google.protobuf.FloatValue w_float = 34;
  google.protobuf.BytesValue w_bytes = 35;
  repeated google.protobuf.DoubleValue r_double = 36;
  google.protobuf.Duration took = 37;
  map<string, google.protobuf.Timestamp> m_at = 38;
}
"""

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
UINT32 = st.integers(0, 2**32 - 1)
UINT64 = st.integers(0, 2**64 - 1)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
COLOR = st.integers(0, 3)  # 3: a number the enum does not name
DOUBLE = st.floats(allow_nan=True, allow_infinity=True)
FLOAT32 = st.floats(width=32, allow_nan=True, allow_infinity=True)


@st.composite
def kinds_values(draw: st.DrawFn, depth: int) -> dict[str, Any]:
    children = kinds_values(depth - 1) if depth > 0 else st.just({})
    return draw(
        st.fixed_dictionaries(
            {},
            optional={
                "f_double": DOUBLE,
                "f_float": FLOAT32,
                "f_int32": INT32,
                "f_int64": INT64,
                "f_uint32": UINT32,
                "f_uint64": UINT64,
                "f_sint32": INT32,
                "f_sint64": INT64,
                "f_fixed32": UINT32,
                "f_fixed64": UINT64,
                "f_sfixed32": INT32,
                "f_sfixed64": INT64,
                "f_bool": st.booleans(),
                "f_string": TEXT,
                "f_bytes": st.binary(max_size=8),
                "f_color": COLOR,
                "child": children,
                "r_float": st.lists(FLOAT32, max_size=3),
                "r_int64": st.lists(INT64, max_size=3),
                "r_color": st.lists(COLOR, max_size=3),
                "r_bytes": st.lists(st.binary(max_size=4), max_size=3),
                "r_child": st.lists(children, max_size=2),
                "m_int64": st.dictionaries(INT64, TEXT, max_size=3),
                "m_bool": st.dictionaries(st.booleans(), COLOR, max_size=2),
                "m_child": st.dictionaries(UINT32, children, max_size=2),
                "m_bytes": st.dictionaries(TEXT, st.binary(max_size=4), max_size=2),
                "m_double": st.dictionaries(INT32, DOUBLE, max_size=2),
                "f_null": st.just(0),
                "s_choice": TEXT,
                "o_int32": INT32,
                "w_int64": st.fixed_dictionaries({"value": INT64}),
                "w_float": st.fixed_dictionaries({"value": FLOAT32}),
                "w_bytes": st.fixed_dictionaries({"value": st.binary(max_size=4)}),
                "r_double": st.lists(st.fixed_dictionaries({"value": DOUBLE}), max_size=2),
                "took": st.fixed_dictionaries(
                    {"seconds": st.integers(0, 10**9)}, optional={"nanos": st.just(5)}
                ),
                "m_at": st.dictionaries(
                    TEXT, st.fixed_dictionaries({"seconds": st.integers(0, 2**33)}), max_size=2
                ),
            },
        )
    )


@pytest.fixture(scope="module")
def kinds() -> tuple[ProtobufDecoder, type[Message]]:
    schema = proto(KINDS_PROTO)
    return protobuf_decoder(schema), message_class(schema, "kinds.Kinds")


@given(
    values=kinds_values(depth=2),
    seconds=st.integers(0, 2**33),
    loose=st.floats(allow_nan=False, allow_infinity=False),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_json_equals_json_formats_message_to_dict_for_every_field_kind(
    kinds: tuple[ProtobufDecoder, type[Message]],
    values: dict[str, Any],
    seconds: int,
    loose: float,
) -> None:
    decoder, kinds_class = kinds
    message = kinds_class(**values)
    message.at.seconds = seconds
    message.loose.number_value = loose
    reference = json_format.MessageToDict(message, preserving_proto_field_name=True)
    assert json.loads(decoder.to_json(confluent_body(message, [0]))) == json.loads(
        json.dumps(reference)
    )


def test_compiling_and_decoding_need_neither_grpc_nor_setuptools() -> None:
    # The image leaves out grpcio and setuptools (declared by grpcio-tools, never imported
    # by its protoc): decoding must work without them.
    script = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("grpc", "setuptools", "pkg_resources"):
            raise ImportError(f"{name} is not in the image")
sys.meta_path.insert(0, Refuse())
from consumer.schemas.model import RegisteredSchema, SchemaFormat
from consumer.schemas.protobuf import protobuf_decoder
text = 'syntax = "proto3"; import "google/protobuf/timestamp.proto";'
text += " message M { google.protobuf.Timestamp at = 1; }"
decoder = protobuf_decoder(RegisteredSchema(SchemaFormat.PROTOBUF, text, {}))
print(decoder.to_json(bytes([0, 0x0A, 0x02, 0x08, 0x01])).decode())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"at": "1970-01-01T00:00:01Z"}
