"""S8's figures, from the function's side alone: every invocation's start, end, partitions,
keys and records, and the moments members were started or stopped.

Pure: a timeline and the changes in, figures out (times are time.monotonic() seconds).

Each change owns the window from its moment to the next change (the last one's, to the end
of live production): a joining member is a process that must start and join before anything
moves, so the rebalance comes seconds after the change, and only the next change bounds its
effects. In a window:

- a stop is the time between two consecutive invocation starts; the one that ends first in
  the window counts from the last start before the change, so a stop that began just before
  a member was stopped is the change's; one still going at the window's end counts up to it.
  The group's stop takes every start; a partition's, only the starts of invocations that
  carry it;
- duplicates are deliveries of a record already delivered, by the start of the repeat;
- overlapping pairs are two invocations sharing a key whose [start, end] intervals overlap
  (the later one starts before the earlier one ends), by the later one's start;
- end-to-end latency is a record's production to the start of its first invocation (the
  function's own 1 to 4 s are left out: they are drawn, not caused), for records produced within
  `near_s` after the change, against the records produced near no change.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.measure import latency_distribution, percentile
from benchmarks.receiver import record_id, records_of


@dataclass(frozen=True)
class Call:
    """One invocation the function ran: when, and what it carried."""

    started_at: float
    ended_at: float
    partitions: frozenset[int]
    keys: frozenset[bytes]
    records: tuple[int, ...]  # record_id(partition, offset) of each


@dataclass(frozen=True)
class Change:
    at: float  # when a member was started, or sent SIGTERM
    members_before: int
    members_after: int

    @property
    def label(self) -> str:
        kind = "join" if self.members_after > self.members_before else "leave"
        return f"{kind} {self.members_before} → {self.members_after}"


@dataclass(frozen=True)
class WindowFigures:
    label: str
    at_s: float  # after live production began
    length_s: float
    group_stop_s: float  # longest time no invocation started anywhere
    partition_stop_median_s: float | None  # each partition's longest stop: their median
    partition_stop_max_s: float | None
    p99_near_ms: float | None  # records produced within near_s after the change
    near_records: int
    in_flight_invocations: int | None  # running at the change (None: no change)
    in_flight_records: int | None  # their records
    duplicates: int
    overlapping_pairs: int


@dataclass(frozen=True)
class ChurnFigures:
    scenario: str
    contender: str
    steady: WindowFigures  # live production's start to the first change
    changes: list[WindowFigures]
    produced: int  # warm-up and live
    delivered: int  # distinct records the function received
    lost: int
    duplicates: int
    overlapping_pairs: int
    p50_ms: float | None  # every live record
    p99_ms: float | None
    p99_near_ms: float | None  # live records produced within near_s after any change
    p99_rest_ms: float | None  # the others
    near_s: float
    # every live record's at measure.LATENCY_PERCENTILES ({"0": min, ..., "100": max})
    percentiles_ms: dict[str, float] | None = None


def call_of(event: Any, started_at: float, ended_at: float) -> Call:
    """A Call from an event of either payload: the native one's keys are base64, the legacy
    one's text."""
    partitions: set[int] = set()
    keys: set[bytes] = set()
    records: list[int] = []
    legacy = isinstance(event, list)
    for record in records_of(event):
        partition = record["partition"]
        partitions.add(partition)
        records.append(record_id(partition, record["offset"]))
        key = record.get("key")
        if key is not None:
            keys.add(key.encode() if legacy else base64.b64decode(key))
    return Call(started_at, ended_at, frozenset(partitions), frozenset(keys), tuple(records))


def longest_stop(starts: Sequence[float], begin: float, end: float) -> float:
    """The longest time between consecutive `starts` (sorted) that ends in [begin, end): the
    first counts from the last start before `begin`, and a stop still going at `end` counts
    up to it. No start at all: the whole window (and what came before it)."""
    first = bisect.bisect_left(starts, begin)
    last = bisect.bisect_left(starts, end)
    anchor = starts[first - 1] if first else begin
    points = [anchor, *starts[first:last], end]
    return max(later - earlier for earlier, later in itertools.pairwise(points))


def in_flight(calls: Iterable[Call], at: float) -> tuple[int, int]:
    """Invocations running at `at`, and their records."""
    running = [c for c in calls if c.started_at <= at < c.ended_at]
    return len(running), sum(len(c.records) for c in running)


def repeat_starts(calls: Sequence[Call]) -> list[float]:
    """The start of every delivery of a record that an earlier-started invocation carried."""
    seen: set[int] = set()
    repeats = []
    for call in sorted(calls, key=lambda c: c.started_at):
        for record in call.records:
            if record in seen:
                repeats.append(call.started_at)
            else:
                seen.add(record)
    return repeats


def first_starts(calls: Sequence[Call]) -> dict[int, float]:
    """Each record's first delivery: the start of the earliest invocation that carried it."""
    first: dict[int, float] = {}
    for call in calls:
        for record in call.records:
            if record not in first or call.started_at < first[record]:
                first[record] = call.started_at
    return first


def overlapping_pairs(calls: Sequence[Call]) -> list[tuple[int, int]]:
    """(earlier, later) indices into `calls` of every two invocations that share a key and ran
    at once: the later one started before the earlier one ended. A pair sharing several keys
    counts once."""
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for index, call in enumerate(calls):
        for key in call.keys:
            by_key[key].append(index)
    pairs: set[tuple[int, int]] = set()
    for indices in by_key.values():
        indices.sort(key=lambda i: calls[i].started_at)
        running: list[int] = []
        for index in indices:
            start = calls[index].started_at
            running = [r for r in running if calls[r].ended_at > start]
            pairs.update((r, index) for r in running)
            running.append(index)
    return sorted(pairs)


def _count_in(times: Iterable[float], begin: float, end: float) -> int:
    return sum(1 for t in times if begin <= t < end)


def churn_figures(
    scenario: str,
    contender: str,
    calls: Sequence[Call],
    changes: Sequence[Change],
    produced_at: Mapping[int, float],
    *,
    produced: int,
    partitions: int,
    began: float,
    ended: float,
    near_s: float,
) -> ChurnFigures:
    """Every figure of one contender's run. `produced_at` maps each live record to when it was
    produced; `produced` counts the warm-up's too; `began` and `ended` bound live production."""
    starts = sorted(c.started_at for c in calls)
    by_partition = {
        p: sorted(c.started_at for c in calls if p in c.partitions) for p in range(partitions)
    }
    repeats = repeat_starts(calls)
    pairs = overlapping_pairs(calls)
    pair_starts = [calls[later].started_at for _, later in pairs]
    first = first_starts(calls)
    latency = {r: (first[r] - at) * 1000 for r, at in produced_at.items() if r in first}
    near = [
        [ms for r, ms in latency.items() if c.at <= produced_at[r] < c.at + near_s] for c in changes
    ]
    rest = [
        ms
        for r, ms in latency.items()
        if not any(c.at <= produced_at[r] < c.at + near_s for c in changes)
    ]

    def window(
        label: str, begin: float, end: float, counted: tuple[float, float], index: int | None
    ) -> WindowFigures:
        worst = [longest_stop(by_partition[p], begin, end) for p in range(partitions)]
        flying = (None, None) if index is None else in_flight(calls, changes[index].at)
        close = [] if index is None else near[index]
        return WindowFigures(
            label=label,
            at_s=begin - began,
            length_s=end - begin,
            group_stop_s=longest_stop(starts, begin, end),
            partition_stop_median_s=statistics.median(worst) if worst else None,
            partition_stop_max_s=max(worst, default=None),
            p99_near_ms=percentile(close, 99),
            near_records=len(close),
            in_flight_invocations=flying[0],
            in_flight_records=flying[1],
            duplicates=_count_in(repeats, *counted),
            overlapping_pairs=_count_in(pair_starts, *counted),
        )

    # Duplicates and overlaps are counted by their moment alone, so every one has a window:
    # the steady one takes the warm-up's, the last change what came after production ended.
    first_change = changes[0].at if changes else ended
    steady = window("steady", began, first_change, (-math.inf, first_change), None)
    window_ends = [*(c.at for c in changes[1:]), ended]
    counted_until = [*(c.at for c in changes[1:]), math.inf]
    windows = [
        window(c.label, c.at, window_ends[i], (c.at, counted_until[i]), i)
        for i, c in enumerate(changes)
    ]
    every = list(latency.values())
    return ChurnFigures(
        scenario=scenario,
        contender=contender,
        steady=steady,
        changes=windows,
        produced=produced,
        delivered=len(first),
        lost=produced - len(first),
        duplicates=len(repeats),
        overlapping_pairs=len(pairs),
        p50_ms=percentile(every, 50),
        p99_ms=percentile(every, 99),
        p99_near_ms=percentile([ms for close in near for ms in close], 99),
        p99_rest_ms=percentile(rest, 99),
        near_s=near_s,
        percentiles_ms=latency_distribution(every),
    )
