"""Records for the local mode to produce: generated samples, or JSON lines from a file.

Samples have keys `key-0` … `key-(K-1)` in turn and JSON values of about the size asked
for; `poison` of them carry the marker the failing example handler fails on, spread
evenly through the run. Nothing else ever contains the marker.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

POISON_MARKER = "poison"  # examples/failing_handler.py fails on values containing it
_PRODUCE_WINDOW = 10_000  # records sent before waiting for the broker to have them


@dataclass(frozen=True)
class SampleRecord:
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class Produced:
    count: int
    ends: dict[int, int]  # partition → one past the last offset written there


NOTHING_PRODUCED = Produced(0, {})


class SampleFileError(ValueError):
    """A --from-file line is not a JSON object with a "value"; the message names the line."""


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
    """JSON lines `{"key": …, "value": …}`: a string key is sent as its UTF-8 bytes, another
    JSON key as its JSON text, a missing or null key as no key; the value as its JSON text."""
    try:
        raw_lines = path.read_bytes().splitlines()
    except OSError as unreadable:
        raise SampleFileError(f"--from-file {path}: {unreadable.strerror}") from None
    records = []
    for number, raw_line in enumerate(raw_lines, start=1):
        try:
            line = raw_line.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise SampleFileError(
                f"--from-file {path}, line {number}: not UTF-8 text ({bad.reason} at byte "
                f"{bad.start + 1} of the line); JSON lines are UTF-8"
            ) from None
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as bad:
            raise SampleFileError(f"--from-file {path}, line {number}: not JSON ({bad})") from None
        if not isinstance(entry, dict) or "value" not in entry:
            raise SampleFileError(
                f'--from-file {path}, line {number}: write {{"key": …, "value": …}} '
                '(one JSON object per line, "key" optional)'
            )
        key = entry.get("key")
        records.append(
            SampleRecord(
                key=None
                if key is None
                else (key if isinstance(key, str) else json.dumps(key)).encode(),
                value=json.dumps(entry["value"]).encode(),
            )
        )
    return records


async def produce(
    client_arguments: dict[str, Any], topic: str, records: Iterable[SampleRecord]
) -> Produced:
    """Produces `records` to `topic`; returns, once the broker has them all, how many and
    where each partition ended after them, as the broker said when it took them."""
    producer = AIOKafkaProducer(**client_arguments, acks="all", linger_ms=20)
    ends: dict[int, int] = {}
    count = 0

    async def settle(pending: list[asyncio.Future[RecordMetadata]]) -> None:
        nonlocal count
        for metadata in await asyncio.gather(*pending):
            count += 1
            ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)

    try:
        await producer.start()
        pending: list[asyncio.Future[RecordMetadata]] = []
        for record in records:
            pending.append(await producer.send(topic, key=record.key, value=record.value))
            if len(pending) >= _PRODUCE_WINDOW:
                await settle(pending)
                pending = []
        await settle(pending)
    finally:
        await producer.stop()
    return Produced(count, ends)
