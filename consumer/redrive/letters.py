"""A stored dead letter read back: which ones a run takes, what one is to the run (a record
to send and how to mark it done, or why it cannot be read), and the S3/file/message document
read as a record.

A document comes from outside (an object, a file, a queue message): it is read with bounds
and checks, and anything wrong with it makes it `Unreadable`, never a crash of the run.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka.structs import ConsumerRecord

from consumer.records import TIMESTAMP_TYPE_NAMES, KafkaRecord


@dataclass(frozen=True)
class Selection:
    since: datetime | None
    until: datetime | None
    partitions: frozenset[int]

    def takes(self, record: KafkaRecord, dead_lettered_at: datetime | None) -> bool:
        if self.partitions and record.partition not in self.partitions:
            return False
        if dead_lettered_at is None:
            return self.since is None and self.until is None
        if self.since is not None and dead_lettered_at < self.since:
            return False
        return self.until is None or dead_lettered_at <= self.until


@dataclass(frozen=True)
class Candidate:
    """One dead letter to send again, and how to mark it done where it is stored."""

    record: KafkaRecord
    where: str  # the S3 key or topic-partition@offset, for the report
    settle: Callable[[], Awaitable[None]]
    bootstrap_servers: str | None = None  # as the dead letter names them (S3, file)


@dataclass(frozen=True)
class Unreadable:
    """A stored dead letter that cannot be read: reported, counted as failed, left in place."""

    where: str
    reason: str


def record_from_document(document: dict[str, Any]) -> ConsumerRecord[bytes, bytes]:
    stored = document["record"]

    def unb64(text: str | None) -> bytes | None:
        return None if text is None else base64.b64decode(text)

    key, value = unb64(stored["key"]), unb64(stored["value"])
    return ConsumerRecord(
        topic=stored["topic"],
        partition=stored["partition"],
        offset=stored["offset"],
        timestamp=stored["timestamp"],
        timestamp_type=_timestamp_type(stored["timestampType"]),
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value or b""),
        headers=[(_header_name(h), unb64(h["value"])) for h in stored["headers"]],
    )


def _header_name(header: dict[str, Any]) -> str:
    """A header's name as the bridge read it: a name that was not UTF-8 is kept as its bytes."""
    if "keyBase64" in header:
        return base64.b64decode(header["keyBase64"]).decode("utf-8", "surrogateescape")
    name: str = header["key"]
    return name


def _timestamp_type(stored: int | str) -> int:
    """A dead letter's timestampType: its name, or the int files written before named it."""
    if isinstance(stored, int):
        return stored
    return _TIMESTAMP_TYPES.get(stored, -1)  # -1: none (message format v0)


_TIMESTAMP_TYPES = {name: kind for kind, name in TIMESTAMP_TYPE_NAMES.items()}


LetterRead = tuple[KafkaRecord, datetime, str | None]  # the record, when, bootstrap servers


def read_letter(body: bytes, where: str) -> LetterRead | Unreadable:
    """A dead letter's record, when it was dead-lettered, and the servers it names; or why it
    cannot be read (a damaged or foreign file): reported, and the others go on."""
    try:
        document = json.loads(body)
    except Exception as error:  # any damage to a stored letter is that letter's, not the run's
        return Unreadable(where, f"not a dead letter the bridge wrote ({type(error).__name__})")
    return read_document(document, where)


def read_document(document: Any, where: str) -> LetterRead | Unreadable:
    """As `read_letter`, of a document already parsed from JSON."""
    try:
        _check_shape(document)
        record = record_from_document(document)
        dead_lettered_at = _zoned(document["lastAttemptAt"])
        servers = document.get("bootstrapServers")
    except Exception as error:  # any damage to a stored letter is that letter's, not the run's
        return Unreadable(where, f"not a dead letter the bridge wrote ({type(error).__name__})")
    return record, dead_lettered_at, servers if isinstance(servers, str) else None


def _zoned(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # --since/--until compare with zoned times
        raise ValueError("lastAttemptAt has no time zone")
    return moment


def _check_shape(document: Any) -> None:
    """TypeError unless the fields a record is made of have their types: what comes from
    outside is checked before it is compared, hashed or encoded."""
    if not isinstance(document, dict) or not isinstance(document.get("record"), dict):
        raise TypeError("not an object with a record")
    stored = document["record"]
    if not isinstance(stored.get("topic"), str) or not isinstance(document["lastAttemptAt"], str):
        raise TypeError("topic or lastAttemptAt")
    for name in ("partition", "offset", "timestamp"):
        if type(stored.get(name)) is not int:
            raise TypeError(name)
    if not isinstance(stored.get("timestampType"), int | str):
        raise TypeError("timestampType")
    for name in ("key", "value"):
        if stored.get(name) is not None and not isinstance(stored[name], str):
            raise TypeError(name)
    headers = stored.get("headers")
    if not isinstance(headers, list) or not all(_is_header(h) for h in headers):
        raise TypeError("headers")


def _is_header(header: Any) -> bool:
    if not isinstance(header, dict):
        return False
    name = header.get("keyBase64", header.get("key"))
    value = header.get("value")
    return isinstance(name, str) and (value is None or isinstance(value, str))
