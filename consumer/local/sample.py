"""Records for the local mode to produce: generated samples, or JSON lines from a file.

Samples have keys `key-0` … `key-(K-1)` in turn and JSON values of about the size asked
for; `poison` of them carry the marker the failing example handler fails on, spread
evenly through the run. Nothing else ever contains the marker.

A record may be as large as MAX_RECORD_BYTES, far above what one Lambda invocation takes
(6 MiB), so that what the bridge does with records too large for Lambda can be tried here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

POISON_MARKER = "poison"  # examples/failing_handler.py fails on values containing it
# Records, and bytes, sent before waiting for the broker to have them.
_PRODUCE_WINDOW = 10_000
_PRODUCE_WINDOW_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SampleRecord:
    key: bytes | None
    value: bytes | None  # None: a tombstone
    headers: tuple[tuple[str, bytes | None], ...] = ()

    @property
    def size_bytes(self) -> int:
        """What the record carries: key, value, header names and values."""
        headers = sum(len(name.encode()) + len(value or b"") for name, value in self.headers)
        return len(self.key or b"") + len(self.value or b"") + headers


@dataclass(frozen=True)
class Produced:
    count: int
    ends: dict[int, int]  # partition → one past the last offset written there


NOTHING_PRODUCED = Produced(0, {})

# The largest record the local mode produces. The embedded broker takes records of tens of
# megabytes; Apache Kafka takes about 1 MB unless its message.max.bytes is raised.
MAX_RECORD_BYTES = 32 * 1024 * 1024
_REQUEST_OVERHEAD_BYTES = 64 * 1024  # batch and record headers around the largest record
_FILE_FIELDS = ("key", "value", "headers")


class SampleFileError(ValueError):
    """A --from-file line cannot become a record; the message names the line and says why."""


def sample_value(number: int, key: str, size_bytes: int, poison: bool = False) -> bytes:
    """A JSON object of `size_bytes` bytes (more if the fields alone are longer)."""
    fields: dict[str, Any] = {"n": number, "key": key}
    if poison:
        fields["marker"] = POISON_MARKER
    fields["padding"] = ""
    bare = len(json.dumps(fields).encode())
    fields["padding"] = "." * max(0, size_bytes - bare)
    return json.dumps(fields).encode()


def poison_positions(count: int, poison: int) -> set[int]:
    """Where `poison` marked records go among `count`: evenly spread, never at the ends."""
    poison = min(poison, count)
    return {(index + 1) * count // (poison + 1) for index in range(poison)}


def sample_records(
    count: int, keys: int, size_bytes: int, poison: int = 0
) -> Iterator[SampleRecord]:
    marked = poison_positions(count, poison)
    for number in range(count):
        key = f"key-{number % keys}"
        value = sample_value(number, key, size_bytes, poison=number in marked)
        yield SampleRecord(key.encode(), value)


def records_from_file(path: Path) -> list[SampleRecord]:
    """JSON lines `{"key": …, "value": …, "headers": …}`, "key" and "headers" optional.

    The value is sent as its JSON text, and null as no value (a tombstone). A key or a
    header value that is a string is sent as its UTF-8 bytes, any other JSON as its JSON
    text, null as none. Headers are an object `{"name": value}`, or a list of such objects
    when a name repeats.
    """
    try:
        raw_lines = path.read_bytes().splitlines()
    except OSError as unreadable:
        raise SampleFileError(f"--from-file {path}: {unreadable.strerror}") from None
    records = []
    for number, raw_line in enumerate(raw_lines, start=1):
        where = f"--from-file {path}, line {number}"
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise SampleFileError(
                f"{where}: not UTF-8 text ({bad.reason} at byte {bad.start + 1} of the line); "
                "JSON lines are UTF-8"
            ) from None
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as bad:
            raise SampleFileError(f"{where}: not JSON ({bad})") from None
        records.append(_file_record(entry, where))
    return records


def _file_record(entry: object, where: str) -> SampleRecord:
    if not isinstance(entry, dict) or "value" not in entry:
        raise SampleFileError(
            f'{where}: write {{"key": …, "value": …}} (one JSON object per line, "key" and '
            '"headers" optional; "value": null is a tombstone)'
        )
    unknown = sorted(set(entry) - set(_FILE_FIELDS))
    if unknown:
        raise SampleFileError(
            f"{where}: unknown field {', '.join(map(repr, unknown))}; a line has "
            '"key", "value" and "headers" only'
        )
    if entry["value"] is None and entry.get("key") is None:
        raise SampleFileError(
            f'{where}: a tombstone ("value": null) needs a "key": Kafka producers send no '
            "record without both"
        )
    record = SampleRecord(
        key=_bytes_of(entry.get("key")),
        value=None if entry["value"] is None else json.dumps(entry["value"]).encode(),
        headers=_headers_of(entry.get("headers"), where),
    )
    if record.size_bytes > MAX_RECORD_BYTES:
        raise SampleFileError(
            f"{where}: the record is {record.size_bytes:,} bytes; the local mode produces "
            f"records up to {MAX_RECORD_BYTES:,} bytes (one Lambda invocation takes "
            "6,291,456: the bridge dead-letters a larger record as undeliverable)"
        )
    return record


def _bytes_of(field: object) -> bytes | None:
    if field is None:
        return None
    return (field if isinstance(field, str) else json.dumps(field)).encode()


def _headers_of(headers: object, where: str) -> tuple[tuple[str, bytes | None], ...]:
    if headers is None:
        return ()
    groups = headers if isinstance(headers, list) else [headers]
    pairs: list[tuple[str, bytes | None]] = []
    for group in groups:
        if not isinstance(group, dict):
            raise SampleFileError(
                f'{where}: write "headers" as {{"name": "value", …}}, or as a list of such '
                "objects when a name repeats"
            )
        pairs.extend((name, _bytes_of(value)) for name, value in group.items())
    return tuple(pairs)


async def produce(
    client_arguments: dict[str, Any],
    topic: str,
    records: Iterable[SampleRecord],
    on_progress: Callable[[int], None] = lambda count: None,
) -> Produced:
    """Produces `records` to `topic`; returns, once the broker has them all, how many and
    where each partition ended after them, as the broker said when it took them.
    `on_progress` is told how many the broker has so far, after each window."""
    producer = AIOKafkaProducer(
        **client_arguments,
        acks="all",
        linger_ms=20,
        max_request_size=MAX_RECORD_BYTES + _REQUEST_OVERHEAD_BYTES,
    )
    ends: dict[int, int] = {}
    count = 0

    async def settle(pending: list[asyncio.Future[RecordMetadata]]) -> None:
        nonlocal count
        for metadata in await asyncio.gather(*pending):
            count += 1
            ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
        on_progress(count)

    try:
        await producer.start()
        pending: list[asyncio.Future[RecordMetadata]] = []
        pending_bytes = 0
        for record in records:
            sent = await producer.send(
                topic, key=record.key, value=record.value, headers=list(record.headers)
            )
            pending.append(sent)
            pending_bytes += record.size_bytes
            if len(pending) >= _PRODUCE_WINDOW or pending_bytes >= _PRODUCE_WINDOW_BYTES:
                await settle(pending)
                pending, pending_bytes = [], 0
        await settle(pending)
    finally:
        await producer.stop()
    return Produced(count, ends)
