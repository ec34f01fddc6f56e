"""The benchmark's function: what it was given, seen from the handler.

`Receiver` is a coroutine handler for the local Lambda (no thread per invocation). It reads
the payloads the contenders send — the bridge's `native` event, the `legacy` JSON array of
the baselines, and a record's bare value (Benthos with its defaults) — and notes each
record's (partition, offset), so lost records and duplicates are counted where they matter:
at the function. End-to-end latency is the handler's clock minus the time the driver
produced the record, for records at or past `live_from` (the ones produced while the
contender was running; a preloaded record's age is the backlog's). The driver's own clock,
not the record's timestamp, because a contender may pass that on in whole seconds (Benthos
v4.27 does).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from benchmarks.workload import Workload
from consumer.local import Invocation, Outcome

_OFFSET_BITS = 40  # (partition, offset) packed in one int: cheaper to hash and hold than a tuple


def record_id(partition: int, offset: int) -> int:
    return (partition << _OFFSET_BITS) | offset


def records_of(event: Any, workload: Workload | None = None) -> Iterator[Mapping[str, Any]]:
    """The records of a native event ({"records": {"<topic>-<p>": [...]}}), a legacy array, or
    (with the run's `workload`) one bare value, as Benthos with its defaults sends a record."""
    if isinstance(event, list):
        yield from event
        return
    if workload is not None and "records" not in event and "seq" in event:
        partition, offset = workload.locate(event["seq"])
        yield {"partition": partition, "offset": offset}
        return
    for records in event["records"].values():
        yield from records


class Receiver:
    """Counts what reaches the function; one per contender run.

    Invariants: `deliveries` counts every record of every invocation the handler ran;
    `seen` holds their distinct ids, so `deliveries - len(seen)` are duplicates; `reached`
    is set once `len(seen) >= target`.
    """

    def __init__(self, per_record_results: bool = False, workload: Workload | None = None) -> None:
        # Answer {"results": [{"itemIdentifier": "<offset>", "value": "ok"}, ...]} (S9).
        self._per_record_results = per_record_results
        self._workload = workload  # where a bare value's record is (benthos-defaults)
        self.deliveries = 0
        self.invocations = 0
        self.seen: set[int] = set()
        self.latencies_ms: list[float] = []
        self.live_from: dict[int, int] | None = None  # partition -> first live offset
        # partition -> when each live record was produced (ms since the epoch), in offset order
        self.produced_ms: dict[int, list[float]] = {}
        self.first_receipt = asyncio.Event()
        self.reached = asyncio.Event()
        self.first_receipt_at = 0.0  # time.monotonic()
        self.last_receipt_at = 0.0
        self._target: int | None = None

    def expect(self, count: int) -> None:
        """`reached` is set once `count` distinct records have arrived."""
        self._target = count
        self.reached.clear()
        self._check_target()

    async def __call__(self, event: Any, context: object) -> dict[str, Any] | None:
        self.receive(event)
        if not self._per_record_results:
            return None
        results = [{"itemIdentifier": str(r["offset"]), "value": "ok"} for r in records_of(event)]
        return {"results": results}

    def receive(self, event: Any) -> None:
        now_ms = time.time() * 1000
        seen, live_from, latencies = self.seen, self.live_from, self.latencies_ms
        count = 0
        for record in records_of(event, self._workload):
            partition, offset = record["partition"], record["offset"]
            seen.add(record_id(partition, offset))
            count += 1
            if live_from is not None and offset >= (first := live_from.get(partition, offset + 1)):
                latencies.append(now_ms - self.produced_ms[partition][offset - first])
        self.deliveries += count
        self.invocations += 1
        self.last_receipt_at = time.monotonic()
        if not self.first_receipt.is_set():
            self.first_receipt_at = self.last_receipt_at
            self.first_receipt.set()
        self._check_target()

    @property
    def duplicates(self) -> int:
        return self.deliveries - len(self.seen)

    def seen_below(self, committed: Mapping[int, int]) -> int:
        """How many distinct records below each partition's committed offset arrived."""
        limits = {record_id(p, 0): record_id(p, offset) for p, offset in committed.items()}
        count = 0
        for rid in self.seen:
            limit = limits.get(record_id(rid >> _OFFSET_BITS, 0))
            if limit is not None and rid < limit:
                count += 1
        return count

    def _check_target(self) -> None:
        if self._target is not None and len(self.seen) >= self._target:
            self.reached.set()


class Outcomes:
    """The local Lambda's view of one function: how each invocation ended, when the
    throttled ones were refused (time.monotonic()), and how long the others took."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.throttled_at: list[float] = []
        self.ok_seconds = 0.0  # summed durations of the invocations the handler ran

    def observe(self, invocation: Invocation) -> None:
        self.counts[invocation.outcome.value] += 1
        if invocation.outcome is Outcome.THROTTLED:
            self.throttled_at.append(invocation.ended_at)
        elif invocation.outcome is Outcome.OK:
            self.ok_seconds += invocation.duration_s

    @property
    def mean_ok_ms(self) -> float | None:
        """How long the local Lambda took per invocation, its request read to its answer."""
        ok = self.counts[Outcome.OK.value]
        return self.ok_seconds * 1000 / ok if ok else None
