"""The payload formats (`payloadFormat`): how records become one Lambda invocation payload.

Each format is a `RecordEncoder` (consumer/records.py): a record is encoded once into a JSON
fragment, and a payload is `prefix + SEPARATOR.join(fragments) + suffix`, so
`len(payload) == envelope_size + sum(len(fragment)) + len(SEPARATOR) * (n - 1)` exactly.

- `native`: the event of Lambda's own self-managed Apache Kafka trigger, so a function written
  for that trigger (or for Powertools' Kafka utilities) runs unchanged.
- `legacy`: the JSON array the replaced bridge sent; key and value as UTF-8 text.
- `value`: one record per invocation; the payload is the record's value, which must be JSON.

Fragments are formatted by hand from parts (names JSON-escaped by the stdlib encoder, legacy
text by msgspec's, which writes the same bytes for it):
this runs once per record, and it measured about twice as fast as building a dict for
`json.dumps`. The tests check each format against a dict-built reference.

    encoder = encoder_for(PayloadFormat.NATIVE, "broker-1:9092,broker-2:9092")
    fragments = [encoder.encode_record(record) for record in records]  # or UndeliverableRecord
    payload = encoder.assemble(topic, partition, fragments)
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import NoReturn

import msgspec

from consumer.records import (
    NO_TIMESTAMP,
    NO_TIMESTAMP_TYPE,
    SEPARATOR,
    TIMESTAMP_TYPE_NAMES,
    CheckedJsonRecord,
    DecodedRecord,
    KafkaRecord,
    RecordEncoder,
    UndecodedRecord,
    UndeliverableRecord,
    header_name_bytes,
)
from consumer.settings.lambda_limits import (
    LAMBDA_EVENT_MAX_BYTES,
    LAMBDA_REQUEST_RESPONSE_MAX_BYTES,
)
from consumer.settings.payload_format import PayloadFormat

__all__ = [
    "LAMBDA_EVENT_MAX_BYTES",
    "LAMBDA_REQUEST_RESPONSE_MAX_BYTES",
    "LegacyEncoder",
    "NativeEncoder",
    "PayloadFormat",
    "ValueEncoder",
    "encoder_for",
]


def encoder_for(payload_format: PayloadFormat, bootstrap_servers: str) -> RecordEncoder:
    """The encoder of `payload_format`; `bootstrap_servers` (comma list) only shows in `native`."""
    match payload_format:
        case PayloadFormat.NATIVE:
            return NativeEncoder(bootstrap_servers)
        case PayloadFormat.LEGACY:
            return LegacyEncoder()
        case PayloadFormat.VALUE:
            return ValueEncoder()
    raise ValueError(f"unknown payload format {payload_format!r}: use native, legacy or value")


# Strings into JSON string literals. Names (topic, header) are escaped to ASCII; text decoded
# from valid UTF-8 stays UTF-8, which is smaller.
_json_name = json.JSONEncoder(check_circular=False).encode

# Lambda's Java poller writes header values as Java bytes, which are signed: "ë" is [-61, -85]
# (powertools-lambda-python#6862, aws-lambda-go#506 `[]int8`, aws-lambda-dotnet#1476 `sbyte`).
_SIGNED_BYTE = [str(byte - 256 if byte > 127 else byte).encode() for byte in range(256)]

_TIMESTAMP_TYPE = {kind: name.encode() for kind, name in TIMESTAMP_TYPE_NAMES.items()}
_NO_TIMESTAMP_TYPE = NO_TIMESTAMP_TYPE.encode()


def _enclose(head: bytes, fragments: Sequence[bytes], tail: bytes) -> bytes:
    """`head + SEPARATOR.join(fragments) + tail`, allocating and copying the payload once.

    Payloads run to megabytes; two concatenations around the join measured 40 times slower.
    """
    if not fragments:
        raise ValueError("a payload carries at least one record: got no fragments")
    if len(fragments) == 1:
        return head + fragments[0] + tail
    return SEPARATOR.join([head + fragments[0], *fragments[1:-1], fragments[-1] + tail])


def _utf8(data: bytes, field: str, fix: str) -> str:
    """`data` as text, or UndeliverableRecord naming the field and the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UndeliverableRecord(
            f"{field} is not valid UTF-8: {err.reason} at byte {err.start} of {len(data)}; {fix}"
        ) from None


class _JsonNames(dict[str, bytes]):
    """Names (topics) as JSON string bytes, encoded once per name."""

    def __missing__(self, name: str) -> bytes:
        encoded = self[name] = _json_name(name).encode()
        return encoded


class NativeEncoder:
    """Lambda's self-managed Apache Kafka event, field for field.

    Matched against AWS's example event ("Using Lambda with self-managed Apache Kafka",
    docs.aws.amazon.com/lambda/latest/dg/with-kafka.html, as reproduced in Powertools'
    KafkaSelfManagedEventSchema docs) and Powertools for Python's `KafkaSelfManagedEventModel`
    (eventSource Literal "SelfManagedKafka", bootstrapServers a comma list, partition an int):

        {"eventSource":"SelfManagedKafka","bootstrapServers":"b-1:9092,b-2:9092",
         "records":{"mytopic-0":[{"topic":"mytopic","partition":0,"offset":15,
           "timestamp":1545084650987,"timestampType":"CREATE_TIME","key":"cmVjb3JkS2V5",
           "value":"eyJrZXkiOiJ2YWx1ZSJ9","headers":[{"headerKey":[104,101,97,100,101,114]}]}]}}

    Keys in that order. A null key is left out, as in AWS's keyless examples (Powertools:
    `key: bytes | None = None`, the TypeScript schema's `key: ZodOptional`). A null value (a
    tombstone) is left out too: Lambda sends tombstones without "value" (powertools-lambda-
    typescript#5016/#5017, "tombstone events without value"; Nike-Inc/hal, typed from observed
    payloads, reads "value" with `.:?`). Header values are lists of signed byte ints, a null
    header value is `null`. One payload holds one partition, so "records" has one key.
    """

    max_records_per_payload: int | None = None

    def __init__(self, bootstrap_servers: str) -> None:
        # Lambda lists the servers comma-separated, without spaces.
        servers = ",".join(s.strip() for s in bootstrap_servers.split(",") if s.strip())
        self._head = b'{"eventSource":"SelfManagedKafka","bootstrapServers":%s,"records":{' % (
            _json_name(servers).encode()
        )
        self._envelopes: dict[tuple[str, int], tuple[bytes, bytes]] = {}
        self._topics = _JsonNames()

    def encode_record(self, record: KafkaRecord) -> bytes:
        topic = self._topics[record.topic]
        timestamp = NO_TIMESTAMP if record.timestamp is None else record.timestamp
        key = record.key
        value = record.value
        headers = record.headers
        return (
            b'{"topic":%s,"partition":%d,"offset":%d,"timestamp":%d,"timestampType":"%s"%s%s,'
            b'"headers":[%s]%s}'
            % (
                topic,
                record.partition,
                record.offset,
                timestamp,
                _TIMESTAMP_TYPE.get(record.timestamp_type, _NO_TIMESTAMP_TYPE),
                b"" if key is None else b',"key":"%s"' % base64.b64encode(key),
                b"" if value is None else b',"value":"%s"' % base64.b64encode(value),
                b",".join([_native_header(name, data) for name, data in headers])
                if headers
                else b"",
                _schema_metadata(record) if type(record) is DecodedRecord else b"",
            )
        )

    def envelope_size(self, topic: str, partition: int) -> int:
        head, tail = self._envelope(topic, partition)
        return len(head) + len(tail)

    def assemble(self, topic: str, partition: int, fragments: Sequence[bytes]) -> bytes:
        head, tail = self._envelope(topic, partition)
        return _enclose(head, fragments, tail)

    def _envelope(self, topic: str, partition: int) -> tuple[bytes, bytes]:
        envelope = self._envelopes.get((topic, partition))
        if envelope is None:
            records_key = _json_name(f"{topic}-{partition}").encode()
            envelope = self._envelopes[topic, partition] = (
                self._head + records_key + b":[",
                b"]}}",
            )
        return envelope


def _schema_metadata(record: DecodedRecord) -> bytes:
    """Lambda's `keySchemaMetadata`/`valueSchemaMetadata` of the parts a registry decoded
    (Powertools' KafkaRecordSchemaMetadata: dataFormat, and schemaId as a string)."""
    key, value = record.key_schema, record.value_schema
    return (b"" if key is None else b',"keySchemaMetadata":' + key.event_json) + (
        b"" if value is None else b',"valueSchemaMetadata":' + value.event_json
    )


def _header_name(name: str) -> bytes:
    """A header name as a JSON string; UndeliverableRecord for one that is not UTF-8 (its
    bytes cannot be JSON text: consumer/kafka/record_batches.py lets such a record through)."""
    name_bytes = header_name_bytes(name)
    if name_bytes is not None:
        raise UndeliverableRecord(
            f"a header name is not UTF-8 ({len(name_bytes)} bytes), so no JSON payload can "
            "carry it; the dead letter keeps its bytes"
        )
    return _json_name(name).encode()


def _native_header(name: str, data: bytes | None) -> bytes:
    if data is None:
        return b"{%s:null}" % _header_name(name)
    return b"{%s:[%s]}" % (_header_name(name), b",".join(map(_SIGNED_BYTE.__getitem__, data)))


_LEGACY_FIX = (
    "the legacy payload format carries key and value as text: "
    "deliver binary records with payloadFormat=native"
)


class LegacyEncoder:
    """The replaced bridge's payload: a JSON array of records with text key and value.

        [{"headers":[{"<name>":"<base64>"}],"key":"<text>"|null,"offset":n,"partition":n,
          "timestamp":<epoch ms>,"topic":"<topic>","value":"<text>"|null}]

    Keys in that (alphabetical) order, as the old bridge's Jackson output had them. Key and value
    must be valid UTF-8, or the record is undeliverable (never replacement characters). A null
    key or value (a tombstone) is JSON null, as the old bridge sent it; a null header value too.
    """

    max_records_per_payload: int | None = None

    def __init__(self) -> None:
        self._topics = _JsonNames()
        # The stdlib's bytes for text decoded from UTF-8 (non-ASCII kept as UTF-8), written
        # straight to bytes in a quarter of the time.
        self._json_text = msgspec.json.Encoder().encode

    def encode_record(self, record: KafkaRecord) -> bytes:
        json_text = self._json_text
        topic = self._topics[record.topic]
        timestamp = NO_TIMESTAMP if record.timestamp is None else record.timestamp
        key = record.key
        value = record.value
        return (
            b'{"headers":[%s],"key":%s,"offset":%d,"partition":%d,"timestamp":%d,'
            b'"topic":%s,"value":%s}'
            % (
                b",".join([_legacy_header(name, data) for name, data in record.headers]),
                b"null" if key is None else json_text(_utf8(key, "key", _LEGACY_FIX)),
                record.offset,
                record.partition,
                timestamp,
                topic,
                b"null" if value is None else json_text(_utf8(value, "value", _LEGACY_FIX)),
            )
        )

    def envelope_size(self, topic: str, partition: int) -> int:
        return 2  # the brackets

    def assemble(self, topic: str, partition: int, fragments: Sequence[bytes]) -> bytes:
        return _enclose(b"[", fragments, b"]")


def _legacy_header(name: str, data: bytes | None) -> bytes:
    if data is None:
        return b"{%s:null}" % _header_name(name)
    return b'{%s:"%s"}' % (_header_name(name), base64.b64encode(data))


_VALUE_FIX = (
    "payloadFormat=value sends each record's value itself as the invocation payload, "
    "so it must be JSON: deliver other records with payloadFormat=native"
)


class UndecodedRefusingEncoder:
    """Any format's encoder, when a schema registry decodes records: a record whose parts
    could not be decoded is undeliverable, so it is dead-lettered with the reason."""

    def __init__(self, inner: RecordEncoder) -> None:
        self._encode = inner.encode_record
        self.max_records_per_payload = inner.max_records_per_payload
        self.envelope_size = inner.envelope_size
        self.assemble = inner.assemble

    def encode_record(self, record: KafkaRecord) -> bytes:
        if type(record) is UndecodedRecord:
            raise UndeliverableRecord(record.reason)
        return self._encode(record)


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


class ValueEncoder:
    """One record per invocation; the payload is the record's value, which must be JSON.

    JSON means what Lambda accepts: UTF-8, RFC 8259 (no NaN/Infinity, which Python would
    accept). A null value (a tombstone) is not JSON, so that record is undeliverable.
    """

    max_records_per_payload: int | None = 1

    def encode_record(self, record: KafkaRecord) -> bytes:
        value = record.value
        if type(record) is CheckedJsonRecord:
            return record.value  # the filter stage parsed it already: each value parsed once
        if type(record) is DecodedRecord and value is not None and value is record.value_json:
            return value  # a registry's record decoded to JSON text: JSON by construction
        if value is None:
            raise UndeliverableRecord(f"value is null (a tombstone), not JSON; {_VALUE_FIX}")
        text = _utf8(value, "value", _VALUE_FIX)
        try:
            # parse_int=str: only the syntax matters, and int() refuses over 4300 digits.
            json.loads(text, parse_int=str, parse_constant=_reject_constant)
        except json.JSONDecodeError as err:
            raise UndeliverableRecord(
                f"value is not JSON: {err.msg} at line {err.lineno} column {err.colno}; "
                f"{_VALUE_FIX}"
            ) from None
        except ValueError as err:
            raise UndeliverableRecord(f"value is not JSON: {err}; {_VALUE_FIX}") from None
        return value

    def envelope_size(self, topic: str, partition: int) -> int:
        return 0

    def assemble(self, topic: str, partition: int, fragments: Sequence[bytes]) -> bytes:
        if len(fragments) != 1:
            raise ValueError(
                f"payloadFormat=value sends one record per payload: got {len(fragments)}"
            )
        return fragments[0]
