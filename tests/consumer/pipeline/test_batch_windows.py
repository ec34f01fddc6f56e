"""A batch window holds a partial batch back until it fills, its time passes or the bridge
closes; its timer hands the lane back to the dispatcher once, and a revoke forgets it."""

from __future__ import annotations

import asyncio

from aiokafka.structs import TopicPartition

from consumer.pipeline.batch_windows import BatchWindows
from consumer.pipeline.lanes import Lane
from tests.consumer.pipeline.test_lanes import keyed, make_lane

PARTITION = TopicPartition("orders", 0)


def with_records(count: int) -> Lane:
    lane = make_lane(max_batch_records=5)
    lane.add(keyed(*(b"k%d" % i for i in range(count))))
    return lane


async def test_a_partial_batch_waits_and_the_window_end_hands_it_back() -> None:
    ended: list[tuple[TopicPartition, Lane]] = []
    done = asyncio.Event()

    def on_end(partition: TopicPartition, lane: Lane) -> None:
        ended.append((partition, lane))
        done.set()

    windows = BatchWindows(window_ms=30, batch_size=5, on_end=on_end)
    lane = with_records(2)
    assert windows.holds_back(PARTITION, lane, closing=False)
    assert windows.holds_back(PARTITION, lane, closing=False)  # one timer, not two
    await asyncio.wait_for(done.wait(), timeout=5)
    assert ended == [(PARTITION, lane)]
    assert not windows.holds_back(PARTITION, lane, closing=False)  # its time has passed


async def test_a_full_batch_a_zero_window_or_closing_never_waits() -> None:
    windows = BatchWindows(window_ms=60_000, batch_size=5, on_end=lambda p, lane: None)
    assert not windows.holds_back(PARTITION, with_records(5), closing=False)
    assert not windows.holds_back(PARTITION, with_records(2), closing=True)
    no_window = BatchWindows(window_ms=0, batch_size=5, on_end=lambda p, lane: None)
    assert not no_window.holds_back(PARTITION, with_records(1), closing=False)


async def test_records_left_after_a_dispatch_wait_a_new_window_and_a_revoke_forgets_it() -> None:
    ends: list[Lane] = []
    windows = BatchWindows(window_ms=60_000, batch_size=5, on_end=lambda p, lane: ends.append(lane))
    lane = with_records(2)
    assert windows.holds_back(PARTITION, lane, closing=False)
    windows.forget(PARTITION)  # revoked: the timer is cancelled
    loop = asyncio.get_running_loop()
    assert not any(not handle.cancelled() for handle in getattr(loop, "_scheduled", [])), (
        "no timer is left running after a revoke"
    )
    empty = make_lane(max_batch_records=5)
    windows.dispatched(PARTITION, empty)  # nothing left: no window open
    assert windows.holds_back(PARTITION, lane, closing=False)  # opens afresh
    assert ends == []
