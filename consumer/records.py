"""What the bridge knows of a Kafka record, and of a batch of them on its way to Lambda.

aiokafka's `ConsumerRecord` already carries every field, so the hot path passes those
objects through untouched; `KafkaRecord` names just the fields the bridge reads.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Kafka's timestamp types, as aiokafka reports them, and as Lambda's event names them.
CREATE_TIME = 0
LOG_APPEND_TIME = 1
TIMESTAMP_TYPE_NAMES = {CREATE_TIME: "CREATE_TIME", LOG_APPEND_TIME: "LOG_APPEND_TIME"}
NO_TIMESTAMP_TYPE = "NO_TIMESTAMP_TYPE"  # message format v0: no timestamp at all
NO_TIMESTAMP = -1  # what Kafka's Java client reports then; aiokafka gives None
SEPARATOR = b","  # between the fragments of one payload


class KafkaRecord(Protocol):
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...  # epoch milliseconds
    @property
    def timestamp_type(self) -> int: ...  # CREATE_TIME or LOG_APPEND_TIME
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class CheckedJsonRecord:
    """A fetched record whose value the filter stage parsed as JSON (an object or an array),
    so the `value` payload format sends it without parsing it again."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]]

    @classmethod
    def of(cls, record: KafkaRecord) -> CheckedJsonRecord:
        value = record.value
        if value is None:
            raise ValueError("a tombstone has no JSON value to have checked")
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.timestamp,
            record.timestamp_type,
            record.key,
            value,
            record.headers,
        )


@dataclass(frozen=True, slots=True)
class SchemaMetadata:
    """Which registry schema a decoded part was written with, as Lambda's event names it."""

    data_format: str  # AVRO, PROTOBUF or JSON
    schema_id: str  # a Confluent schema id, or a Glue schema version UUID
    # Lambda's event object for it, {"dataFormat":…,"schemaId":…}: written once per schema
    # (one object per schema is shared by its records), not hashed and looked up per record.
    event_json: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        event = {"dataFormat": self.data_format, "schemaId": self.schema_id}
        object.__setattr__(self, "event_json", json.dumps(event, separators=(",", ":")).encode())


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    """A fetched record whose schema-registry parts were decoded (see consumer/schemas/).

    `key` and `value` are what the function receives: the decoded JSON text with
    SCHEMA_RECORD_FORMAT=JSON, else the bytes as fetched. `key_json`/`value_json` are the
    decoded JSON of each decoded part whatever the format (filters match on them, as Lambda's
    do), and `source` is the record as fetched: a dead letter keeps the original bytes.
    """

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    key_json: bytes | None
    value_json: bytes | None
    key_schema: SchemaMetadata | None
    value_schema: SchemaMetadata | None
    source: KafkaRecord


@dataclass(frozen=True, slots=True)
class UndecodedRecord:
    """A fetched record the bridge cannot read: a schema-registry part that cannot be
    decoded, or a value the filter cannot parse. No invocation can carry it, so it is
    dead-lettered (or stalls) with `reason`, its bytes as fetched."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    reason: str

    @classmethod
    def of(cls, record: KafkaRecord, reason: str) -> UndecodedRecord:
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.timestamp,
            record.timestamp_type,
            record.key,
            record.value,
            record.headers,
            reason,
        )


def header_name_bytes(name: str) -> bytes | None:
    """The bytes of a header name that is not UTF-8, None for one that is. Such a name arrives
    decoded with surrogateescape (consumer/kafka/record_batches.py), so its bytes come back
    exactly; no name decoded from UTF-8 holds the lone surrogates that mark one."""
    if name.isascii():
        return None
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape")
    return None


def as_fetched(record: KafkaRecord) -> KafkaRecord:
    """The record with the bytes it was fetched with (a dead letter keeps those)."""
    return record.source if type(record) is DecodedRecord else record


class RecordEncoder(Protocol):
    """Turns records into one invocation payload of a given format (consumer/payloads/).

    A payload is the fragments joined by `SEPARATOR` inside an envelope, so its exact size
    is `envelope_size(...) + sum(fragment sizes) + len(SEPARATOR) * (n - 1)`, known before
    it is built; and a record is encoded once however often its batch is retried or split.
    """

    max_records_per_payload: int | None  # None: no limit but bytes

    def encode_record(self, record: KafkaRecord) -> bytes:
        """The record's fragment; raises UndeliverableRecord if this format cannot carry it."""
        ...

    def envelope_size(self, topic: str, partition: int) -> int: ...

    def assemble(self, topic: str, partition: int, fragments: Sequence[bytes]) -> bytes: ...


class UndeliverableRecord(Exception):
    """A record that can never be delivered as it is (not UTF-8, not JSON, too large)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def unreadable_reason(error: Exception) -> str:
    """Why one record could not be read, matched or encoded, when the failure was not foreseen
    by the code that met it: the kind of failure, never the record's contents (an exception's
    text may quote them)."""
    if isinstance(error, RecursionError):
        return "it nests too deeply to read (JSON or Avro nested about a thousand levels)"
    if isinstance(error, MemoryError):
        return "reading it would take more memory than the bridge has"
    return f"it cannot be read ({type(error).__name__})"


@dataclass
class Batch:
    """Records of one partition, in offset order, sent in one invocation.

    `fragments[i]` is the encoded `records[i]`. A batch with `undeliverable` set holds one
    record that no invocation can carry; the reason says why. A batch with `claim_check` set
    holds one record too large for an invocation, and no fragment yet: delivery stores the
    record and encodes its claim check in its place (consumer/payloads/claim_checks.py).
    """

    topic: str
    partition: int
    records: list[KafkaRecord]
    fragments: list[bytes] = field(default_factory=list)
    undeliverable: str | None = None
    claim_check: bool = False

    @property
    def first_offset(self) -> int:
        return self.records[0].offset

    @property
    def last_offset(self) -> int:
        return self.records[-1].offset
