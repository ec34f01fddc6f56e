"""S8's figures from hand-built invocation timelines: stops, duplicates, overlapping keys and
latency near membership changes."""

from __future__ import annotations

import base64

import pytest

from benchmarks.churn_timeline import (
    Call,
    Change,
    call_of,
    churn_figures,
    in_flight,
    longest_stop,
    overlapping_pairs,
    repeat_starts,
)
from benchmarks.receiver import record_id


def call(start: float, end: float, partition: int, offsets: range, keys: str = "") -> Call:
    return Call(
        start,
        end,
        frozenset({partition}),
        frozenset(k.encode() for k in keys.split()),
        tuple(record_id(partition, o) for o in offsets),
    )


def test_a_call_is_read_from_native_and_legacy_events_with_their_keys_as_bytes() -> None:
    native = {
        "records": {
            "t-3": [
                {"partition": 3, "offset": 7, "key": base64.b64encode(b"variant-3").decode()},
                {"partition": 3, "offset": 8},  # a null key: no "key"
            ]
        }
    }
    made = call_of(native, 1.0, 2.5)
    assert (made.partitions, made.keys) == (frozenset({3}), frozenset({b"variant-3"}))
    assert made.records == (record_id(3, 7), record_id(3, 8))
    legacy = [
        {"partition": 5, "offset": 1, "key": "variant-5"},
        {"partition": 5, "offset": 2, "key": None},
    ]
    assert call_of(legacy, 0.0, 1.0).keys == {b"variant-5"}


def test_a_stop_runs_from_the_last_start_before_the_window_and_is_cut_at_its_end() -> None:
    starts = [0.0, 0.4, 0.8, 4.0, 4.3, 9.0]
    # The stop 0.8 → 4.0 began before the change at 1.0: it is the change's.
    assert longest_stop(starts, 1.0, 5.0) == pytest.approx(3.2)
    # Still going at the window's end (4.3 → 6.0, the next start at 9.0 is past it).
    assert longest_stop(starts, 4.1, 6.0) == pytest.approx(1.7)
    assert longest_stop([], 2.0, 3.0) == pytest.approx(1.0)
    assert longest_stop([0.0, 0.1, 0.2], 0.0, 0.3) == pytest.approx(0.1)


def test_in_flight_counts_invocations_running_at_the_moment_and_their_records() -> None:
    calls = [call(0.0, 3.0, 0, range(10)), call(1.0, 2.0, 1, range(4)), call(2.0, 4.0, 2, range(5))]
    assert in_flight(calls, 2.0) == (2, 15)  # the one ending at 2.0 has ended
    assert in_flight(calls, 5.0) == (0, 0)


def test_a_repeat_is_dated_by_the_start_of_the_invocation_that_carried_it_again() -> None:
    calls = [
        call(0.0, 1.0, 0, range(5)),
        call(2.0, 3.0, 0, range(3, 8)),
        call(2.5, 3.0, 1, range(2)),
    ]
    assert repeat_starts(calls) == [2.0, 2.0]


def test_invocations_sharing_a_key_overlap_when_the_later_starts_before_the_earlier_ends() -> None:
    calls = [
        call(0.0, 3.0, 0, range(2), "a b"),
        call(1.0, 2.0, 0, range(2, 4), "b c"),  # shares b with the first, inside it
        call(2.5, 4.0, 0, range(4, 6), "a b"),  # shares a and b with the first: one pair
        call(4.0, 5.0, 0, range(6, 8), "a"),  # starts as the third ends: no overlap
        call(1.5, 2.5, 1, range(2), "x"),  # no key in common with anyone
    ]
    assert overlapping_pairs(calls) == [(0, 1), (0, 2)]
    assert overlapping_pairs(calls[3:]) == []


def steady_group(begin: float, end: float, every: float = 0.1) -> list[Call]:
    """Partitions 0 and 1 each starting an invocation every `every` s, keys of their own."""
    calls, offset, at = [], {0: 0, 1: 0}, begin
    while at < end:
        for p in (0, 1):
            # Each ends halfway to the next start: one key's invocations never overlap.
            calls.append(call(at, at + every / 2, p, range(offset[p], offset[p] + 1), f"k{p}"))
            offset[p] += 1
        at = round(at + every, 6)
    return calls


def test_each_change_gets_its_stops_duplicates_overlaps_and_near_latency() -> None:
    # Live production 0 → 30 s; a member joins at 10 s and leaves at 20 s.
    changes = [Change(10.0, 1, 2), Change(20.0, 2, 1)]
    calls = [c for c in steady_group(0.0, 30.0) if not 11.0 < c.started_at < 13.0]
    # After the join nothing starts for 2 s; partition 1 stops 1 s longer.
    calls = [c for c in calls if not (c.partitions == {1} and 11.0 < c.started_at < 14.0)]
    # The new member delivers partition 0's records 100-104 again (5 duplicates), at once
    # with the old member's invocation of key k0 that started at 13.0.
    calls.append(call(13.0, 13.05, 0, range(100, 105), "k0"))
    # The leave brings one more duplicate and no overlap.
    calls.append(call(20.5, 21.0, 1, range(150, 151), "k9"))
    # Records produced at 10.5 (near the join) wait 2.5 s; at 25 (near no change), 0.1 s.
    near, far = record_id(0, 500), record_id(1, 500)
    calls += [call(13.0, 13.1, 0, range(500, 501)), call(25.1, 25.2, 1, range(500, 501))]
    produced_at = {near: 10.5, far: 25.0}

    figures = churn_figures(
        "S8",
        "bridge",
        calls,
        changes,
        produced_at,
        produced=len({r for c in calls for r in c.records}) + 2,
        partitions=2,
        began=0.0,
        ended=30.0,
        near_s=5.0,
    )

    join, leave = figures.changes
    assert join.label == "join 1 → 2"
    assert leave.label == "leave 2 → 1"
    assert (join.at_s, join.length_s, leave.length_s) == (10.0, 10.0, 10.0)
    assert join.group_stop_s == pytest.approx(2.0, abs=0.01)
    assert join.partition_stop_max_s == pytest.approx(3.0, abs=0.01)
    assert join.partition_stop_median_s == pytest.approx(2.5, abs=0.01)
    assert leave.group_stop_s == pytest.approx(0.1, abs=0.01)
    assert figures.steady.group_stop_s == pytest.approx(0.1, abs=0.01)
    assert (join.duplicates, leave.duplicates, figures.duplicates) == (5, 1, 6)
    assert (join.overlapping_pairs, leave.overlapping_pairs, figures.overlapping_pairs) == (1, 0, 1)
    assert (join.in_flight_invocations, join.in_flight_records) == (2, 2)
    assert figures.steady.in_flight_records is None
    assert join.p99_near_ms == pytest.approx(2500)
    assert join.near_records == 1
    assert leave.near_records == 0
    assert figures.p99_rest_ms == pytest.approx(100)
    # every live record's distribution: the two records, 100 and 2 500 ms
    assert figures.percentiles_ms is not None
    assert (figures.percentiles_ms["0"], figures.percentiles_ms["100"]) == (100.0, 2500.0)
    assert figures.percentiles_ms["50"] == pytest.approx(1300)
    assert figures.lost == 2  # the two counted in `produced` that never arrived


def test_duplicates_after_production_ended_belong_to_the_last_change() -> None:
    changes = [Change(5.0, 1, 2)]
    calls = [call(1.0, 2.0, 0, range(3)), call(12.0, 13.0, 0, range(3))]
    figures = churn_figures(
        "S8",
        "benthos",
        calls,
        changes,
        {},
        produced=3,
        partitions=1,
        began=0.0,
        ended=10.0,
        near_s=5.0,
    )
    assert (figures.steady.duplicates, figures.changes[0].duplicates) == (0, 3)
    assert figures.lost == 0
    assert figures.p99_ms is None
    assert figures.percentiles_ms is None
