"""What an owner leaves in a partition's committed offset metadata for its next owner.

One line of ASCII, `k2l/<version> <key>=<value> ...`:
- `lease=<ms>`: wall-clock milliseconds (Unix epoch) until which an invocation this owner
  started for the partition may still be running at Lambda; absent: none may be running
  (the owner released the partition, or never invoked);
- `done=<text>`: the offsets above the committed one that are done (delivered or
  dead-lettered), as runs relative to the committed offset: varints of (gap, length) pairs,
  zlib-compressed, base64url without padding.

A reader takes the keys it knows and ignores the others, so a later version can add keys
and still be read by this one; a later version that changes what a key means must rename
it. Metadata that is not in this format (an earlier version of the bridge commits "") means
no lease and no done offsets: the previous owner waited for its invocations itself.

Everything read here comes from another member and is read bounded: the text, the
inflated done offsets and their count.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

PREFIX = "k2l/"
VERSION = 1
# Kafka's default `offset.metadata.max.bytes`; MSK and Confluent Cloud keep it.
BROKER_METADATA_LIMIT = 4096
# Done offsets a reader accepts: far more than a partition's buffer holds.
MAX_DONE_OFFSETS = 1_000_000
_MAX_INFLATED_BYTES = 64 * 1024


@dataclass(frozen=True)
class Handover:
    lease_until_ms: int | None = None
    done_above: frozenset[int] = frozenset()  # absolute offsets, all above the committed one

    def encode(self, committed: int, limit: int = BROKER_METADATA_LIMIT) -> str:
        """The metadata text; without the done offsets when they would not fit in `limit`
        bytes (the next owner then delivers them again, as before leases)."""
        parts = [f"{PREFIX}{VERSION}"]
        if self.lease_until_ms is not None:
            parts.append(f"lease={self.lease_until_ms}")
        head = " ".join(parts)
        done = sorted(offset for offset in self.done_above if offset > committed)
        if not done:
            return head
        with_done = f"{head} done={_encode_runs(committed, done)}"
        return with_done if len(with_done.encode()) <= limit else head


def decode(metadata: str | None, committed: int) -> Handover:
    """The handover in `metadata`; an empty one when it is not in this format, or its
    done offsets cannot be read (then they are delivered again: at least once)."""
    if not metadata or not metadata.startswith(PREFIX) or len(metadata) > 4 * BROKER_METADATA_LIMIT:
        return Handover()
    fields = dict(token.split("=", 1) for token in metadata.split(" ")[1:] if "=" in token)
    lease = fields.get("lease")
    lease_ms = int(lease) if lease is not None and lease.isdigit() and len(lease) < 19 else None
    done: frozenset[int] = frozenset()
    if "done" in fields:
        try:
            done = frozenset(_decode_runs(committed, fields["done"]))
        except (ValueError, zlib.error):
            done = frozenset()
    return Handover(lease_ms, done)


def _encode_runs(committed: int, done: list[int]) -> str:
    """Runs of consecutive offsets, as (gap from the previous run's end, length) varints."""
    out = bytearray()
    previous_end = committed  # the committed offset is not done, so the first gap is ≥ 1
    for start, length in _runs(done):
        _put_varint(out, start - previous_end)
        _put_varint(out, length)
        previous_end = start + length
    packed = zlib.compress(bytes(out), 9)
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def _decode_runs(committed: int, text: str) -> Iterator[int]:
    packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    inflater = zlib.decompressobj()
    raw = inflater.decompress(packed, _MAX_INFLATED_BYTES)
    if inflater.unconsumed_tail or not inflater.eof:
        raise ValueError("done offsets: too large or truncated")
    end, count = committed, 0
    numbers = _varints(raw)
    for gap in numbers:
        length = next(numbers, None)
        if length is None or gap < 1 or length < 1:
            raise ValueError("done offsets: malformed runs")
        count += length
        if count > MAX_DONE_OFFSETS:
            raise ValueError("done offsets: too many")
        position = end + gap
        yield from range(position, position + length)
        end = position + length


def _runs(offsets: Iterable[int]) -> Iterator[tuple[int, int]]:
    start = previous = None
    for offset in offsets:
        if previous is not None and offset == previous + 1:
            previous = offset
            continue
        if start is not None and previous is not None:
            yield start, previous - start + 1
        start = previous = offset
    if start is not None and previous is not None:
        yield start, previous - start + 1


def _put_varint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _varints(raw: bytes) -> Iterator[int]:
    value = shift = 0
    for byte in raw:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            if shift > 63:
                raise ValueError("done offsets: varint too long")
            continue
        yield value
        value = shift = 0
    if shift:
        raise ValueError("done offsets: truncated varint")
