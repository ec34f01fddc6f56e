"""Record batches the Kafka client cannot parse whole: the records around one it cannot read.

aiokafka's parser decodes every header name as UTF-8, and one name that is not (librdkafka,
Sarama and hand-rolled producers can write one; the broker does not check) raises inside
`getmany`: the whole fetch fails, the records before it in the batch are lost to this fetch,
and the bridge would stop, restart, fetch the same batch and stop again.

`install()` wraps the fetcher's batches: each batch is read by aiokafka's compiled parser as
before, at the same cost; only if that raises is the same batch parsed again here, with header
names that are not UTF-8 decoded with `surrogateescape` (so `name.encode("utf-8",
"surrogateescape")` gives their bytes back, and no valid name can look like one). Every record
of the batch then arrives, in order; aiokafka itself skips those of a batch below its
position, so the records it had already returned are not returned twice. The payload formats
refuse such a name (consumer/records.py `header_name_bytes` says which), so that record alone
is dead-lettered.

Wrapping the fetcher's `MemoryRecords` (a module attribute aiokafka looks up per fetch) is
the narrowest place: aiokafka has no hook for a record parser, and parsing every batch in
Python would cost far more than the compiled parser. A test fails if aiokafka moves it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiokafka.consumer.fetcher as aiokafka_fetcher
from aiokafka import codec
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import decode_varint

# RecordBatch v2: baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8,
# crc uint32, attributes int16, lastOffsetDelta int32, baseTimestamp int64, maxTimestamp int64,
# producerId int64, producerEpoch int16, baseSequence int32, records int32; then the records.
_HEADER = struct.Struct(">qiibIhiqqqhii")
_LOG_OVERHEAD = 12  # baseOffset and batchLength: what batchLength does not count
_MAGIC_AT = 16
_CODEC_MASK = 0x07
_LOG_APPEND_TIME_MASK = 0x08
_DECOMPRESS = {
    1: codec.gzip_decode,
    2: lambda data: codec.snappy_decode(bytes(data)),
    3: lambda data: codec.lz4_decode(bytes(data)),
    4: lambda data: codec.zstd_decode(bytes(data)),
}


def install() -> None:
    """Makes every aiokafka consumer of this process recover batches it cannot parse.
    Idempotent."""
    if aiokafka_fetcher.MemoryRecords is not _RecoveringMemoryRecords:
        aiokafka_fetcher.MemoryRecords = _RecoveringMemoryRecords


class _RecoveringMemoryRecords:
    """aiokafka's MemoryRecords, whose v2 batches fall back to `_parse` when they fail."""

    def __init__(self, data: bytes) -> None:
        self._records = MemoryRecords(data)
        self._data = memoryview(data)
        self._position = 0  # where the next batch starts: walked beside aiokafka's own walk

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        batch = self._records.next_batch()
        if batch is None:
            return None
        start = self._position
        (length,) = struct.unpack_from(">i", self._data, start + 8)
        self._position = start + _LOG_OVERHEAD + length
        if self._data[start + _MAGIC_AT] < 2:
            return batch  # the message formats before v2 have no headers
        return _RecoveringBatch(batch, self._data[start : self._position])


class _RecoveringBatch:
    """One v2 batch: aiokafka's parse, or, once that has failed, ours of the same bytes."""

    def __init__(self, batch: Any, raw: memoryview) -> None:
        self._batch = batch
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)  # offsets, producer, control and CRC: aiokafka's

    def __next__(self) -> Any:
        return next(self._batch)  # a control batch's marker: no user headers there

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self._batch
        except UnicodeDecodeError:
            # Every record again: aiokafka passes over those below its position.
            yield from _parse(self._raw)


@dataclass(frozen=True, slots=True)
class _Record:
    """What aiokafka's fetcher reads of a record (aiokafka's DefaultRecord, field for field)."""

    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    checksum: None = None


def _parse(raw: memoryview) -> Iterator[_Record]:
    """The records of one v2 batch, header names decoded with surrogateescape. The batch's
    framing and CRC were checked by aiokafka already; a record that runs past the batch
    raises, as in aiokafka."""
    (base_offset, _, _, _, _, attributes, _, base_timestamp, max_timestamp, *_, count) = (
        _HEADER.unpack_from(raw, 0)
    )
    body: Any = raw[_HEADER.size :]
    decompress = _DECOMPRESS.get(attributes & _CODEC_MASK)
    if decompress is not None:
        body = decompress(body)
    body = bytes(body)
    log_append_time = bool(attributes & _LOG_APPEND_TIME_MASK)
    position = 0
    for _ in range(count):
        length, position = decode_varint(body, position)
        record_end = position + length
        position += 1  # the record's attributes (one byte): unused
        timestamp_delta, position = decode_varint(body, position)
        offset_delta, position = decode_varint(body, position)
        key, position = _nullable_bytes(body, position)
        value, position = _nullable_bytes(body, position)
        header_count, position = decode_varint(body, position)
        headers: list[tuple[str, bytes | None]] = []
        for _ in range(header_count):
            name, position = _nullable_bytes(body, position)
            data, position = _nullable_bytes(body, position)
            headers.append(((name or b"").decode("utf-8", "surrogateescape"), data))
        position = record_end  # the length says where the next record starts
        yield _Record(
            base_offset + offset_delta,
            max_timestamp if log_append_time else base_timestamp + timestamp_delta,
            1 if log_append_time else 0,
            key,
            value,
            headers,
        )


def _nullable_bytes(body: bytes, position: int) -> tuple[bytes | None, int]:
    length, position = decode_varint(body, position)
    if length < 0:
        return None, position
    end = position + length
    if end > len(body):
        raise ValueError("a record runs past the end of its batch")
    return body[position:end], end
