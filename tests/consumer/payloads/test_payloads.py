"""Payload formats: each field of each format, the record rules, and the exact size formula."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import given
from hypothesis import strategies as st

from consumer.payloads.encoders import (
    LegacyEncoder,
    NativeEncoder,
    UndecodedRefusingEncoder,
    ValueEncoder,
    encoder_for,
)
from consumer.records import (
    CREATE_TIME,
    LOG_APPEND_TIME,
    SEPARATOR,
    DecodedRecord,
    RecordEncoder,
    SchemaMetadata,
    UndecodedRecord,
    UndeliverableRecord,
)
from consumer.settings.payload_format import PayloadFormat

SERVERS = "b-1.example.com:9092,b-2.example.com:9092"


def record(
    *,
    topic: str = "variants",
    partition: int = 3,
    offset: int = 42,
    timestamp: int | None = 1_700_000_000_123,
    timestamp_type: int | None = CREATE_TIME,
    key: bytes | None = b"variant-1",
    value: bytes | None = b'{"event":"Add"}',
    headers: list[tuple[str, bytes | None]] | None = None,
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=timestamp,  # None: message format v0
        timestamp_type=timestamp_type,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=-1 if key is None else len(key),
        serialized_value_size=-1 if value is None else len(value),
        headers=headers or [],  # a header value may be null
    )


def payload_of(encoder: RecordEncoder, *records: ConsumerRecord[bytes, bytes]) -> Any:
    fragments = [encoder.encode_record(r) for r in records]
    raw = encoder.assemble(records[0].topic, records[0].partition, fragments)
    return json.loads(raw.decode("utf-8"))


def native_record(r: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    return payload_of(NativeEncoder(SERVERS), r)["records"][f"{r.topic}-{r.partition}"][0]  # type: ignore[no-any-return]


def legacy_record(r: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    return payload_of(LegacyEncoder(), r)[0]  # type: ignore[no-any-return]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- choosing a format ---------------------------------------------------------------------


def test_payload_format_values_are_the_setting_values() -> None:
    assert [f.value for f in PayloadFormat] == ["native", "legacy", "value"]
    assert PayloadFormat("legacy") is PayloadFormat.LEGACY


@pytest.mark.parametrize(
    ("payload_format", "encoder_type"),
    [
        (PayloadFormat.NATIVE, NativeEncoder),
        (PayloadFormat.LEGACY, LegacyEncoder),
        (PayloadFormat.VALUE, ValueEncoder),
    ],
)
def test_encoder_for_gives_the_encoder_of_the_format(
    payload_format: PayloadFormat, encoder_type: type
) -> None:
    assert isinstance(encoder_for(payload_format, SERVERS), encoder_type)


def test_only_the_value_format_limits_records_per_payload() -> None:
    assert NativeEncoder(SERVERS).max_records_per_payload is None
    assert LegacyEncoder().max_records_per_payload is None
    assert ValueEncoder().max_records_per_payload == 1


@pytest.mark.parametrize("encoder", [NativeEncoder(SERVERS), LegacyEncoder(), ValueEncoder()])
def test_a_payload_without_records_is_refused(encoder: RecordEncoder) -> None:
    with pytest.raises(ValueError, match=r"got no fragments|got 0"):
        encoder.assemble("variants", 0, [])


# --- native ----------------------------------------------------------------------------------


def test_native_matches_aws_documented_self_managed_kafka_event() -> None:
    # AWS's example event (with-kafka.html; Powertools' KafkaSelfManagedEventSchema docs).
    documented = {
        "eventSource": "SelfManagedKafka",
        "bootstrapServers": "b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092,"
        "b-1.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092",
        "records": {
            "mytopic-0": [
                {
                    "topic": "mytopic",
                    "partition": 0,
                    "offset": 15,
                    "timestamp": 1545084650987,
                    "timestampType": "CREATE_TIME",
                    "key": "cmVjb3JkS2V5",
                    "value": "eyJrZXkiOiJ2YWx1ZSJ9",
                    "headers": [
                        {"headerKey": [104, 101, 97, 100, 101, 114, 86, 97, 108, 117, 101]}
                    ],
                }
            ]
        },
    }
    encoder = NativeEncoder(documented["bootstrapServers"])  # type: ignore[arg-type]
    event = payload_of(
        encoder,
        record(
            topic="mytopic",
            partition=0,
            offset=15,
            timestamp=1545084650987,
            key=b"recordKey",
            value=b'{"key":"value"}',
            headers=[("headerKey", b"headerValue")],
        ),
    )
    assert event == documented
    assert list(event) == ["eventSource", "bootstrapServers", "records"]
    assert list(event["records"]["mytopic-0"][0]) == [
        "topic",
        "partition",
        "offset",
        "timestamp",
        "timestampType",
        "key",
        "value",
        "headers",
    ]


def test_native_records_of_a_payload_sit_under_topic_dash_partition_in_offset_order() -> None:
    event = payload_of(
        NativeEncoder(SERVERS),
        record(topic="a.b_c-d", partition=11, offset=7),
        record(topic="a.b_c-d", partition=11, offset=8),
    )
    assert list(event["records"]) == ["a.b_c-d-11"]
    assert [r["offset"] for r in event["records"]["a.b_c-d-11"]] == [7, 8]


def test_native_key_and_value_are_base64_of_the_bytes() -> None:
    key, value = b"\x00\xffkey", bytes(range(256))
    fields = native_record(record(key=key, value=value))
    assert base64.b64decode(fields["key"], validate=True) == key
    assert base64.b64decode(fields["value"], validate=True) == value


def test_native_leaves_out_the_key_when_it_is_null() -> None:
    assert "key" not in native_record(record(key=None))


def test_native_keeps_an_empty_key_as_an_empty_string() -> None:
    assert native_record(record(key=b""))["key"] == ""


def test_native_leaves_out_the_value_of_a_tombstone() -> None:
    fields = native_record(record(value=None))
    assert "value" not in fields
    assert fields["key"] == b64(b"variant-1")


def test_native_header_values_are_lists_of_signed_byte_ints_like_java_bytes() -> None:
    fields = native_record(record(headers=[("name", "ë".encode())]))
    assert fields["headers"] == [{"name": [-61, -85]}]


def test_native_header_bytes_cover_the_whole_byte_range() -> None:
    data = bytes(range(256))
    (header,) = native_record(record(headers=[("all", data)]))["headers"]
    assert all(-128 <= n <= 127 for n in header["all"])
    assert bytes(n & 0xFF for n in header["all"]) == data


def test_native_headers_keep_order_and_repeated_names_one_object_each() -> None:
    headers: list[tuple[str, bytes | None]] = [("b", b"1"), ("a", b""), ("b", b"2"), ("n", None)]
    assert native_record(record(headers=headers))["headers"] == [
        {"b": [49]},
        {"a": []},
        {"b": [50]},
        {"n": None},
    ]


def test_native_headers_are_an_empty_list_when_the_record_has_none() -> None:
    assert native_record(record(headers=[]))["headers"] == []


@pytest.mark.parametrize(
    ("timestamp_type", "timestamp", "expected_type", "expected_timestamp"),
    [
        (CREATE_TIME, 1_700_000_000_123, "CREATE_TIME", 1_700_000_000_123),
        (LOG_APPEND_TIME, 1_700_000_000_456, "LOG_APPEND_TIME", 1_700_000_000_456),
        (None, None, "NO_TIMESTAMP_TYPE", -1),  # message format v0
    ],
)
def test_native_timestamp_is_epoch_ms_with_its_kafka_timestamp_type(
    timestamp_type: int | None, timestamp: int | None, expected_type: str, expected_timestamp: int
) -> None:
    fields = native_record(record(timestamp_type=timestamp_type, timestamp=timestamp))
    assert fields["timestampType"] == expected_type
    assert fields["timestamp"] == expected_timestamp
    assert type(fields["timestamp"]) is int


def test_native_partition_and_offset_are_json_numbers() -> None:
    fields = native_record(record(partition=5, offset=2**62))
    assert (fields["partition"], fields["offset"]) == (5, 2**62)


def test_native_bootstrap_servers_are_a_comma_list_without_spaces() -> None:
    event = payload_of(NativeEncoder(" b-1:9092 , b-2:9092,"), record())
    assert event["bootstrapServers"] == "b-1:9092,b-2:9092"


# --- legacy ----------------------------------------------------------------------------------


def test_legacy_payload_is_the_old_bridges_array_of_records() -> None:
    payload = payload_of(
        LegacyEncoder(),
        record(offset=42, headers=[("trace", b"\x01\x02")]),
        record(offset=43, key=None, value=b"plain text"),
    )
    assert payload == [
        {
            "headers": [{"trace": b64(b"\x01\x02")}],
            "key": "variant-1",
            "offset": 42,
            "partition": 3,
            "timestamp": 1_700_000_000_123,
            "topic": "variants",
            "value": '{"event":"Add"}',
        },
        {
            "headers": [],
            "key": None,
            "offset": 43,
            "partition": 3,
            "timestamp": 1_700_000_000_123,
            "topic": "variants",
            "value": "plain text",
        },
    ]
    assert list(payload[0]) == [
        "headers",
        "key",
        "offset",
        "partition",
        "timestamp",
        "topic",
        "value",
    ]


def test_legacy_value_is_text_the_function_can_parse_as_json() -> None:
    # The production function does json.loads(record["value"]).
    value = {"event": "Update", "id": "CA123", "note": 'Müller ✓ "q" \\ \n'}
    fields = legacy_record(record(value=json.dumps(value, ensure_ascii=False).encode()))
    assert json.loads(fields["value"]) == value


def test_legacy_keeps_non_ascii_text_exactly() -> None:
    text = "ë 漢字 🧬 \u2028 \x00"
    fields = legacy_record(record(key=text.encode(), value=text.encode()))
    assert (fields["key"], fields["value"]) == (text, text)


def test_legacy_tombstone_value_is_json_null() -> None:
    assert legacy_record(record(value=None))["value"] is None


def test_legacy_header_values_are_base64_and_null_stays_null() -> None:
    headers: list[tuple[str, bytes | None]] = [("bin", b"\xff\x00"), ("bin", b"x"), ("n", None)]
    assert legacy_record(record(headers=headers))["headers"] == [
        {"bin": "/wA="},
        {"bin": "eA=="},
        {"n": None},
    ]


def test_legacy_timestamp_of_message_format_v0_is_minus_one() -> None:
    assert legacy_record(record(timestamp=None, timestamp_type=None))["timestamp"] == -1


@pytest.mark.parametrize("field", ["key", "value"])
@pytest.mark.parametrize(
    ("data", "position", "reason"),
    [
        (b"ok\xffok", 2, "invalid start byte"),
        (b"abc\xc3", 3, "unexpected end of data"),
        (b"\xed\xa0\x80", 0, "invalid continuation byte"),  # an encoded surrogate (CESU-8)
    ],
)
def test_legacy_record_with_invalid_utf8_is_undeliverable_naming_field_and_byte(
    field: str, data: bytes, position: int, reason: str
) -> None:
    with pytest.raises(UndeliverableRecord) as raised:
        LegacyEncoder().encode_record(record(key=data) if field == "key" else record(value=data))
    assert raised.value.reason.startswith(
        f"{field} is not valid UTF-8: {reason} at byte {position} of {len(data)}; "
    )
    assert "payloadFormat=native" in raised.value.reason


# --- value -----------------------------------------------------------------------------------


def test_value_payload_is_the_record_value_unchanged() -> None:
    value = b' {"event": "Add", "n": 1.5e3} \n'
    encoder = ValueEncoder()
    fragment = encoder.encode_record(record(value=value))
    assert encoder.assemble("variants", 3, [fragment]) == value
    assert encoder.envelope_size("variants", 3) == 0


@pytest.mark.parametrize("value", [b"42", b'"text"', b"null", b"[]", b"1" * 5000])
def test_value_accepts_any_json_text(value: bytes) -> None:
    assert ValueEncoder().encode_record(record(value=value)) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "value is not JSON: Expecting value at line 1 column 1; "),
        (b"plain text", "value is not JSON: Expecting value at line 1 column 1; "),
        (b'{"a": 1}\n{"b": 2}', "value is not JSON: Extra data at line 2 column 1; "),
        (b'{"a": NaN}', "value is not JSON: NaN is not a JSON value; "),
        (b"-Infinity", "value is not JSON: -Infinity is not a JSON value; "),
        (b'\xef\xbb\xbf{"a": 1}', "value is not JSON: Unexpected UTF-8 BOM"),
        (b'{"a": "\xff"}', "value is not valid UTF-8: invalid start byte at byte 7 of 10; "),
        (None, "value is null (a tombstone), not JSON; "),
    ],
)
def test_value_record_that_is_not_json_is_undeliverable_with_the_reason(
    value: bytes | None, reason: str
) -> None:
    with pytest.raises(UndeliverableRecord) as raised:
        ValueEncoder().encode_record(record(value=value))
    assert raised.value.reason.startswith(reason)
    assert "payloadFormat=native" in raised.value.reason


def test_value_payload_carries_exactly_one_record() -> None:
    with pytest.raises(ValueError, match="one record per payload: got 2"):
        ValueEncoder().assemble("variants", 3, [b"1", b"2"])


# --- any format: exact size, valid JSON, same content as a dict-built reference ---------------

kafka_topics = st.from_regex(r"[a-zA-Z0-9._-]{1,249}", fullmatch=True)
any_topics = st.one_of(kafka_topics, st.text(min_size=1))  # not Kafka's rule: be correct anyway
header_lists = st.lists(st.tuples(st.text(), st.none() | st.binary(max_size=40)), max_size=4)
texts = st.text(max_size=60).map(str.encode)


@st.composite
def partitions(
    draw: st.DrawFn, keys: st.SearchStrategy[bytes], values: st.SearchStrategy[bytes]
) -> list[ConsumerRecord[bytes, bytes]]:
    """Records of one topic-partition, in offset order, with random content."""
    topic, partition = draw(any_topics), draw(st.integers(0, 2**31 - 1))
    first = draw(st.integers(0, 2**62))
    count = draw(st.integers(1, 6))
    return [
        record(
            topic=topic,
            partition=partition,
            offset=first + i,
            timestamp=draw(st.integers(0, 2**53)),
            timestamp_type=draw(st.sampled_from([CREATE_TIME, LOG_APPEND_TIME])),
            key=draw(st.none() | keys),
            value=draw(st.none() | values),
            headers=draw(header_lists),
        )
        for i in range(count)
    ]


def assert_exact_size(encoder: RecordEncoder, records: list[ConsumerRecord[bytes, bytes]]) -> Any:
    topic, partition = records[0].topic, records[0].partition
    fragments = [encoder.encode_record(r) for r in records]
    payload = encoder.assemble(topic, partition, fragments)
    expected = (
        encoder.envelope_size(topic, partition)
        + sum(len(f) for f in fragments)
        + len(SEPARATOR) * (len(fragments) - 1)
    )
    assert len(payload) == expected
    return json.loads(payload.decode("utf-8"))


def native_reference(r: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "topic": r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "timestamp": r.timestamp,
        "timestampType": ["CREATE_TIME", "LOG_APPEND_TIME"][r.timestamp_type],
    }
    if r.key is not None:
        fields["key"] = b64(r.key)
    if r.value is not None:
        fields["value"] = b64(r.value)
    fields["headers"] = [
        {name: None if data is None else [b - 256 if b > 127 else b for b in data]}
        for name, data in r.headers
    ]
    return fields


def legacy_reference(r: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    return {
        "headers": [{n: None if d is None else b64(d)} for n, d in r.headers],
        "key": None if r.key is None else r.key.decode("utf-8"),
        "offset": r.offset,
        "partition": r.partition,
        "timestamp": r.timestamp,
        "topic": r.topic,
        "value": None if r.value is None else r.value.decode("utf-8"),
    }


@given(partitions(keys=st.binary(max_size=60), values=st.binary(max_size=200)))
def test_native_size_is_exact_and_payload_is_the_reference_event(
    records: list[ConsumerRecord[bytes, bytes]],
) -> None:
    event = assert_exact_size(NativeEncoder(SERVERS), records)
    records_key = f"{records[0].topic}-{records[0].partition}"
    assert event == {
        "eventSource": "SelfManagedKafka",
        "bootstrapServers": SERVERS,
        "records": {records_key: [native_reference(r) for r in records]},
    }


@given(partitions(keys=texts, values=texts))
def test_legacy_size_is_exact_and_payload_is_the_reference_array(
    records: list[ConsumerRecord[bytes, bytes]],
) -> None:
    assert assert_exact_size(LegacyEncoder(), records) == [legacy_reference(r) for r in records]


@given(st.text(), st.text())
def test_legacy_text_is_written_byte_for_byte_as_the_standard_library_writes_it(
    key: str, value: str
) -> None:
    """msgspec writes the key and value; the old bridge's readers saw the stdlib's bytes."""
    stdlib = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
    fragment = LegacyEncoder().encode_record(record(key=key.encode(), value=value.encode()))
    assert b'"key":%s,' % stdlib(key).encode() in fragment
    assert fragment.endswith(b'"value":%s}' % stdlib(value).encode())


@given(st.binary(max_size=30), st.booleans())
def test_legacy_refuses_exactly_the_keys_and_values_that_are_not_utf8(
    data: bytes, as_key: bool
) -> None:
    r = record(key=data) if as_key else record(value=data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        with pytest.raises(UndeliverableRecord):
            LegacyEncoder().encode_record(r)
    else:
        assert legacy_record(r)["key" if as_key else "value"] == text


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(any_topics, json_values)
def test_value_size_is_exact_and_payload_is_the_value(topic: str, document: Any) -> None:
    value = json.dumps(document, ensure_ascii=False).encode()
    assert assert_exact_size(ValueEncoder(), [record(topic=topic, value=value)]) == document


def decoded(
    source: ConsumerRecord[bytes, bytes],
    *,
    key: bytes | None = None,
    value: bytes | None = None,
    key_schema: SchemaMetadata | None = None,
    value_schema: SchemaMetadata | None = None,
) -> DecodedRecord:
    """`source` with its registry parts decoded to `key`/`value` (JSON text)."""
    return DecodedRecord(
        source.topic,
        source.partition,
        source.offset,
        source.timestamp,
        source.timestamp_type,
        source.key if key is None else key,
        source.value if value is None else value,
        source.headers,
        key,
        value,
        key_schema,
        value_schema,
        source,
    )


def test_native_carries_lambdas_schema_metadata_for_each_decoded_part() -> None:
    source = record(key=b"\x00\x00\x00\x00\x07k", value=b"\x00\x00\x00\x00\x09v")
    both = decoded(
        source,
        key=b'"k-1"',
        value=b'{"n":1}',
        key_schema=SchemaMetadata("JSON", "7"),
        value_schema=SchemaMetadata("JSON", "9"),
    )
    got = payload_of(NativeEncoder(SERVERS), both)["records"]["variants-3"][0]  # type: ignore[arg-type]
    assert got["key"] == b64(b'"k-1"')
    assert got["value"] == b64(b'{"n":1}')
    assert got["keySchemaMetadata"] == {"dataFormat": "JSON", "schemaId": "7"}
    assert got["valueSchemaMetadata"] == {"dataFormat": "JSON", "schemaId": "9"}
    only_value = decoded(source, value=b"{}", value_schema=SchemaMetadata("AVRO", "9"))
    got = payload_of(NativeEncoder(SERVERS), only_value)["records"]["variants-3"][0]  # type: ignore[arg-type]
    assert "keySchemaMetadata" not in got
    assert list(got)[-1] == "valueSchemaMetadata", "after the headers, as Lambda's event"


def test_the_value_format_sends_a_decoded_json_value_as_it_is() -> None:
    source = record(value=b"\x00\x00\x00\x00\x09avro-bytes")
    as_json = decoded(source, value=b'{"n": 1}', value_schema=SchemaMetadata("JSON", "9"))
    assert ValueEncoder().encode_record(as_json) == b'{"n": 1}'
    # SCHEMA_RECORD_FORMAT=SOURCE: the value travels as written, which is not JSON.
    as_source = replace(as_json, value=source.value, value_schema=SchemaMetadata("AVRO", "9"))
    with pytest.raises(UndeliverableRecord, match=r"value is not (valid UTF-8|JSON)"):
        ValueEncoder().encode_record(as_source)


@pytest.mark.parametrize("payload_format", list(PayloadFormat))
def test_a_record_a_registry_could_not_decode_is_undeliverable_with_the_reason(
    payload_format: PayloadFormat,
) -> None:
    encoder = UndecodedRefusingEncoder(encoder_for(payload_format, SERVERS))
    reason = "value: the schema registry has no schema id 42"
    with pytest.raises(UndeliverableRecord, match=reason):
        encoder.encode_record(UndecodedRecord.of(record(), reason))
    assert encoder.encode_record(record()) == encoder_for(payload_format, SERVERS).encode_record(
        record()
    )
