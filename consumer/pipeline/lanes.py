"""One lane per assigned partition: fetched records wait here until a batch takes them.

The lane decides which records go into the next batch (oldest first, keeping the ordering
promise), counts what is buffered so the dispatcher can pause the partition, and owns the
partition's offset tracker. It does no I/O: the dispatcher calls `add`, `next_batch` and
`complete` and does the fetching, invoking and committing.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Collection, Hashable, Iterable, Sequence

from consumer.pipeline.offsets import OffsetTracker
from consumer.records import (
    SEPARATOR,
    Batch,
    KafkaRecord,
    RecordEncoder,
    UndecodedRecord,
    UndeliverableRecord,
    unreadable_reason,
)
from consumer.settings.ordering import Ordering

_SEPARATOR_BYTES = len(SEPARATOR)

# The queue of records with a null key, and under `partition`/`none` ordering the queue of
# every record: it is never busy, so its records are never held back by the key rule.
_FREE = None

QueueKey = Hashable  # a record's key (bytes) or _FREE


def _offset(record: KafkaRecord) -> int:
    return record.offset


def _buffered_size(record: KafkaRecord) -> int:
    key, value = record.key, record.value
    return (0 if key is None else len(key)) + (0 if value is None else len(value))


class Lane:
    """The pending records and in-flight batches of one partition.

    Structure: pending records sit in one deque per key (offset order within the key; records
    with a null key, and every record under `partition`/`none` ordering, share the free queue),
    and `_ready` is a min-heap of (head offset, key) over the queues whose key is not busy.
    `next_batch` merges those queues oldest first by popping the heap, so a scan costs
    O((b + s) log h): b records taken, s stale entries or busy keys met (each busy key at most
    once: its entry is dropped, and pushed again when the key is released), h heap entries.
    Thousands of pending records behind a busy hot key are never looked at. `add` is O(1) per
    record (plus a heap push when a key's queue was empty); `complete` is O(b + k log h) for
    the k keys it releases; a requeue merges only with records requeued before it.

    Invariants:
    - every record added and not yet done is in exactly one place: a key queue (pending) or
      an in-flight batch; a record not done in `complete` goes back to its queue in offset
      order, ahead of newer records;
    - under `key` ordering a non-null key is in `_busy` iff an in-flight batch holds one of its
      records, and a busy key's records are not dispatched;
    - every non-empty queue whose key is not busy has at least one `_ready` entry equal to
      (its head's offset, key); other entries are stale and dropped when popped;
    - at most `max_in_flight` batches are in flight (1 under `partition` ordering).
    """

    __slots__ = (
        "_batches",
        "_busy",
        "_claim_checks",
        "_encoder",
        "_envelope_bytes",
        "_in_flight",
        "_keyed",
        "_max_batch_bytes",
        "_max_batch_records",
        "_max_buffered_bytes",
        "_max_buffered_records",
        "_max_in_flight",
        "_pending",
        "_queues",
        "_ready",
        "_stash_fragment",
        "_stash_reason",
        "_stash_record",
        "_tracker",
        "buffered_bytes",
        "buffered_records",
        "ordering",
        "partition",
        "records_examined",
        "topic",
    )

    def __init__(
        self,
        *,
        topic: str,
        partition: int,
        ordering: Ordering,
        encoder: RecordEncoder,
        max_in_flight: int,
        max_batch_records: int,
        max_batch_bytes: int,
        max_buffered_records: int,
        max_buffered_bytes: int,
        claim_checks: bool = False,
    ) -> None:
        for name, value in (
            ("max_in_flight", max_in_flight),
            ("max_batch_records", max_batch_records),
            ("max_batch_bytes", max_batch_bytes),
            ("max_buffered_records", max_buffered_records),
            ("max_buffered_bytes", max_buffered_bytes),
        ):
            if value < 1:
                raise ValueError(f"Lane {name} must be at least 1, got {value}")
        envelope_bytes = encoder.envelope_size(topic, partition)
        if envelope_bytes >= max_batch_bytes:
            raise ValueError(
                f"Lane max_batch_bytes={max_batch_bytes} leaves no room for a record in the "
                f"{envelope_bytes}-byte payload envelope; raise max_batch_bytes"
            )
        self.topic = topic
        self.partition = partition
        self.ordering = ordering
        self._encoder = encoder
        self._keyed = ordering is Ordering.key
        self._max_in_flight = 1 if ordering is Ordering.partition else max_in_flight
        per_payload = encoder.max_records_per_payload
        self._max_batch_records = (
            max_batch_records if per_payload is None else min(max_batch_records, per_payload)
        )
        self._max_batch_bytes = max_batch_bytes
        self._envelope_bytes = envelope_bytes
        self._max_buffered_records = max_buffered_records
        self._max_buffered_bytes = max_buffered_bytes
        # LARGE_RECORDS is set: a record too large on its own goes as a claim check.
        self._claim_checks = claim_checks
        self._tracker = OffsetTracker()
        self._queues: dict[QueueKey, deque[KafkaRecord]] = {}
        self._ready: list[tuple[int, QueueKey]] = []
        self._busy: set[QueueKey] = set()
        self._batches: dict[int, Batch] = {}  # id(batch) -> batch, for the batches in flight
        self._in_flight = 0
        self._pending = 0
        self.buffered_records = 0  # pending + in flight
        self.buffered_bytes = 0  # len(key) + len(value) of those
        self.records_examined = 0  # heap entries popped by scans: the cost of next_batch
        # The record that ended the last batch was encoded and not taken; keep its encoding
        # so the next scan, which most often starts with it, does not encode it again.
        self._stash_record: KafkaRecord | None = None
        self._stash_fragment = b""
        self._stash_reason: str | None = None

    # -- bookkeeping the dispatcher reads ------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Batches handed out by `next_batch` and not yet completed."""
        return self._in_flight

    @property
    def pending_records(self) -> int:
        return self._pending

    @property
    def should_pause(self) -> bool:
        """The buffer is at or over a bound: stop fetching this partition."""
        return (
            self.buffered_records >= self._max_buffered_records
            or self.buffered_bytes >= self._max_buffered_bytes
        )

    @property
    def may_resume(self) -> bool:
        """The buffer is below half of both bounds: fetching may start again (hysteresis)."""
        return (
            2 * self.buffered_records < self._max_buffered_records
            and 2 * self.buffered_bytes < self._max_buffered_bytes
        )

    @property
    def committable_offset(self) -> int | None:
        return self._tracker.committable_offset

    def done_above(self) -> list[int]:
        """Offsets above the committable one already done (see OffsetTracker.done_above)."""
        return self._tracker.done_above()

    @property
    def is_idle(self) -> bool:
        return self._pending == 0 and self._in_flight == 0

    # -- the pipeline ----------------------------------------------------------------------

    def add(self, records: Iterable[KafkaRecord], fetched_through: int | None = None) -> None:
        """Queues fetched records; they must come in increasing offset order.

        `fetched_through` is the last offset fetched when the fetch held more than `records`:
        the records left out were filtered out, done without a batch, and the commit may
        pass them (a fetch whose records were all filtered out still moves the commit).
        """
        track = self._tracker.track
        queues, ready, busy, keyed = self._queues, self._ready, self._busy, self._keyed
        count = size = 0
        try:
            for record in records:
                offset = record.offset
                track(offset)  # refuses an offset out of order before it is queued
                record_key, value = record.key, record.value
                key = record_key if keyed else _FREE
                queue = queues.get(key)
                if queue is None:
                    queue = queues[key] = deque()
                if not queue and key not in busy:
                    heapq.heappush(ready, (offset, key))
                queue.append(record)
                count += 1
                # _buffered_size, inlined: this loop runs once per record
                size += (0 if record_key is None else len(record_key)) + (
                    0 if value is None else len(value)
                )
        finally:  # the counts stay true to what was queued even if an offset was refused
            self._pending += count
            self.buffered_records += count
            self.buffered_bytes += size
        if fetched_through is not None:
            self._tracker.pass_over(fetched_through)

    def next_batch(self) -> Batch | None:
        """The next batch to invoke, or None when the in-flight limit is reached or every
        pending record waits for its key.

        Takes the oldest dispatchable records up to the record and byte limits; stops at the
        first record that does not fit. A record that cannot be encoded, or alone exceeds the
        byte limit, comes as a batch of its own with `undeliverable` set, in flight like any
        other, so the dispatcher can dead-letter it or stall on it; with `claim_checks`, one
        that alone exceeds the byte limit comes alone with `claim_check` set instead, and the
        delivery stores it (the lane does no I/O).
        """
        if self._in_flight >= self._max_in_flight or not self._ready:
            return None
        if len(self._ready) > 2 * len(self._queues) + 64:
            self._rebuild_ready()
        ready, queues, busy = self._ready, self._queues, self._busy
        encode = self._encoder.encode_record
        max_records, max_bytes = self._max_batch_records, self._max_batch_bytes
        records: list[KafkaRecord] = []
        fragments: list[bytes] = []
        payload_bytes = self._envelope_bytes - _SEPARATOR_BYTES  # the first record has none
        examined = 0
        entry: tuple[int, QueueKey] | None = heapq.heappop(ready)
        while entry is not None:
            examined += 1
            offset, key = entry
            queue = queues.get(key)
            if not queue or queue[0].offset != offset or key in busy:
                entry = heapq.heappop(ready) if ready else None  # stale, or key in flight
                continue
            record = queue[0]
            if record is self._stash_record:
                fragment, reason = self._stash_fragment, self._stash_reason
                self._stash_record = None
            else:
                try:
                    if type(record) is UndecodedRecord:  # the bridge could not read it
                        raise UndeliverableRecord(record.reason)  # noqa: TRY301 - refused as any other
                    fragment, reason = encode(record), None
                except UndeliverableRecord as error:
                    fragment, reason = b"", error.reason
                except Exception as error:  # the trust boundary: one record never stops a lane
                    fragment, reason = b"", unreadable_reason(error)
            if reason is None:
                size = payload_bytes + _SEPARATOR_BYTES + len(fragment)
                if size > max_bytes:
                    if records:  # full: this record starts a later batch
                        self._stash(record, fragment, None)
                        heapq.heappush(ready, entry)
                        break
                    if self._claim_checks:  # alone, stored by the delivery, not encoded here
                        queue.popleft()
                        self._dequeued(key, queue)
                        self.records_examined += examined
                        batch = Batch(self.topic, self.partition, [record], claim_check=True)
                        return self._dispatch(batch)
                    reason = (
                        f"record encodes to a {size}-byte payload on its own, over the "
                        f"{max_bytes}-byte limit of one invocation"
                    )
            if reason is not None:
                if records:  # it goes alone, in a later batch
                    self._stash(record, fragment, reason)
                    heapq.heappush(ready, entry)
                    break
                queue.popleft()
                self._dequeued(key, queue)
                self.records_examined += examined
                return self._dispatch(Batch(self.topic, self.partition, [record], [], reason))
            queue.popleft()
            records.append(record)
            fragments.append(fragment)
            payload_bytes = size
            if len(records) >= max_records:
                self._dequeued(key, queue)
                break
            if queue:  # its next record competes with the other heads
                entry = heapq.heappushpop(ready, (queue[0].offset, key))
            else:
                del queues[key]
                entry = heapq.heappop(ready) if ready else None
        self.records_examined += examined
        if not records:
            return None
        return self._dispatch(Batch(self.topic, self.partition, records, fragments))

    def complete(self, batch: Batch, done: Collection[int] | None = None) -> None:
        """Ends an in-flight batch: offsets in `done` (default: all of the batch's) are done;
        the batch's other records go back to pending, in offset order, for a later batch."""
        if self._batches.get(id(batch)) is not batch:
            raise ValueError(
                f"batch {batch.topic}-{batch.partition}@{batch.first_offset} is not in flight "
                f"in lane {self.topic}-{self.partition}: complete each batch once"
            )
        records = batch.records
        retry: list[KafkaRecord] = []
        if done is not None:
            done_offsets = done if isinstance(done, set | frozenset) else set(done)
            retry = [record for record in records if record.offset not in done_offsets]
            if len(records) - len(retry) != len(done_offsets):
                raise ValueError(
                    f"done offsets {sorted(done_offsets)} are not all in the batch "
                    f"{batch.first_offset}..{batch.last_offset}: pass offsets of its records"
                )
        del self._batches[id(batch)]
        self._in_flight -= 1
        mark_done = self._tracker.mark_done
        freed_bytes = 0
        if retry:
            for record in records:
                if record.offset in done_offsets:
                    mark_done(record.offset)
                    freed_bytes += _buffered_size(record)
        else:
            for record in records:
                mark_done(record.offset)
                freed_bytes += _buffered_size(record)
        self.buffered_records -= len(records) - len(retry)
        self.buffered_bytes -= freed_bytes
        touched: set[QueueKey] = set()
        if self._keyed:
            touched.update(record.key for record in records)
            touched.discard(_FREE)  # the free queue's head only moves if records come back
            self._busy.difference_update(touched)
        if retry:
            touched.update(self._requeue(retry))
        queues, ready, busy = self._queues, self._ready, self._busy
        for key in touched:
            queue = queues.get(key)
            if queue and key not in busy:
                heapq.heappush(ready, (queue[0].offset, key))

    # -- internals -------------------------------------------------------------------------

    def _dispatch(self, batch: Batch) -> Batch:
        if self._keyed:
            self._busy.update(record.key for record in batch.records)
            self._busy.discard(_FREE)
        self._batches[id(batch)] = batch
        self._in_flight += 1
        self._pending -= len(batch.records)
        return batch

    def _dequeued(self, key: QueueKey, queue: deque[KafkaRecord]) -> None:
        """After the scan took `queue`'s head for good: keep the ready-heap invariant."""
        if not queue:
            del self._queues[key]
        elif key is _FREE:  # never busy, so its new head needs an entry
            heapq.heappush(self._ready, (queue[0].offset, key))
        # a keyed queue's key is busy from now on; `complete` pushes its head when released

    def _stash(self, record: KafkaRecord, fragment: bytes, reason: str | None) -> None:
        self._stash_record, self._stash_fragment, self._stash_reason = record, fragment, reason

    def _requeue(self, records: Sequence[KafkaRecord]) -> set[QueueKey]:
        """Puts records (in offset order) back in their queues; returns the keys touched."""
        groups: dict[QueueKey, list[KafkaRecord]] = {}
        keyed = self._keyed
        for record in records:
            groups.setdefault(record.key if keyed else _FREE, []).append(record)
        queues = self._queues
        for key, group in groups.items():
            queue = queues.get(key)
            if queue is None:
                queues[key] = deque(group)
            elif group[-1].offset < queue[0].offset:
                queue.extendleft(reversed(group))
            else:
                # Only the free queue gets here: its front holds records requeued by other
                # batches, interleaved with these. Merge just that front: O(in-flight records).
                front = []
                while queue and queue[0].offset < group[-1].offset:
                    front.append(queue.popleft())
                queue.extendleft(reversed(list(heapq.merge(front, group, key=_offset))))
        self._pending += len(records)
        return set(groups)

    def _rebuild_ready(self) -> None:
        # Stale entries pile up only by requeues and releases that no scan reached yet; a
        # rebuild after more than 2x the queues keeps the heap small, O(1) amortized.
        busy = self._busy
        self._ready = [
            (queue[0].offset, key) for key, queue in self._queues.items() if key not in busy
        ]
        heapq.heapify(self._ready)
