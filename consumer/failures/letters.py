"""A dead letter, and the JSON document that carries it to S3, a file, or an SQS or SNS
message: what the function could not take, why, and where it came from. `redrive` reads the
document back. Pure: no I/O."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from consumer.records import (
    NO_TIMESTAMP_TYPE,
    TIMESTAMP_TYPE_NAMES,
    KafkaRecord,
    header_name_bytes,
)

MAX_ERROR_MESSAGE_CHARS = 1000


@dataclass(frozen=True)
class DeadLetter:
    record: KafkaRecord
    error_type: str
    error_message: str
    attempts: int
    first_attempt_at: float  # epoch seconds
    last_attempt_at: float


def iso_time(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def dead_letter_document(
    letter: DeadLetter, function_name: str, payload_format: str, bootstrap_servers: str
) -> dict[str, Any]:
    """The JSON document of one dead letter (S3, file); `redrive` reads it back, and with
    "bootstrapServers" it writes the native event again without the Kafka settings."""
    record = letter.record
    return {
        "record": {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "timestamp": record.timestamp,
            # Named as the native event names it; redrive reads the name (and older files' int).
            "timestampType": TIMESTAMP_TYPE_NAMES.get(record.timestamp_type, NO_TIMESTAMP_TYPE),
            "key": _b64(record.key),
            "value": _b64(record.value),
            "headers": [_header_entry(name, value) for name, value in record.headers],
        },
        "error": {
            "type": letter.error_type,
            "message": letter.error_message[:MAX_ERROR_MESSAGE_CHARS],
        },
        "attempts": letter.attempts,
        "firstAttemptAt": iso_time(letter.first_attempt_at),
        "lastAttemptAt": iso_time(letter.last_attempt_at),
        "functionName": function_name,
        "payloadFormat": payload_format,
        "bootstrapServers": bootstrap_servers,
    }


def _header_entry(name: str, value: bytes | None) -> dict[str, str | None]:
    """A header in the document: a name that is not UTF-8 as its bytes, in base64."""
    name_bytes = header_name_bytes(name)
    if name_bytes is not None:
        return {"keyBase64": base64.b64encode(name_bytes).decode(), "value": _b64(value)}
    return {"key": name, "value": _b64(value)}


def s3_key(prefix: str, record: KafkaRecord, writer_id: str) -> str:
    topic = topic_segment(record.topic)
    return f"{prefix}{topic}/{record.partition:05d}/{record.offset:020d}-{writer_id}.json"


# Names a topic's segment never takes: a file path's own, and where redrive moves letters.
_RESERVED_SEGMENTS = frozenset({".", "..", "redriven"})


def topic_segment(topic: str) -> str:
    """A topic's name as one segment of a key or path, the same as the name for every topic
    Apache Kafka accepts ([a-zA-Z0-9._-]). Other brokers accept any name: a character that
    could leave the directory ("/") or confuse a reader is percent-encoded, and so is the first
    character of a name that is itself special (".", "..", "redriven")."""
    segment = quote(topic, safe="")
    if segment in _RESERVED_SEGMENTS:
        segment = f"%{ord(segment[0]):02X}{segment[1:]}"
    return segment
