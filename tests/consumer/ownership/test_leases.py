"""Leases: no invocation starts that could outlive what the broker holds."""

from __future__ import annotations

import asyncio

from aiokafka.structs import TopicPartition

from consumer.ownership.leases import Leases

P = TopicPartition("t", 0)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def leases(clock: Clock, invocation_s: float = 20.0, ahead_s: float = 10.0) -> Leases:
    return Leases(invocation_s, ahead_s, clock)


def test_nothing_starts_before_a_lease_is_acknowledged() -> None:
    clock = Clock()
    held = leases(clock)
    lease = held.to_commit(P, holding=True)
    assert held.start(P) is None  # sent, not yet acknowledged

    held.acknowledged({P: lease})
    assert held.start(P) is not None


def test_a_start_needs_the_whole_invocation_inside_the_lease() -> None:
    clock = Clock()
    held = leases(clock)
    held.acknowledged({P: held.to_commit(P, holding=True)})
    clock.now += 10.5  # past the 10 s the lease was ahead: an invocation would outlive it
    assert held.start(P) is None


def test_an_idle_partitions_lease_shrinks_to_what_may_still_run() -> None:
    clock = Clock()
    held = leases(clock)
    held.acknowledged({P: held.to_commit(P, holding=True)})
    answered, lost = held.start(P), held.start(P)
    assert answered is not None
    assert lost is not None
    held.end(P, answered, answered=True)
    held.end(P, lost, answered=False)  # a network error: it may still be running

    lease = held.to_commit(P, holding=False)
    assert lease == (clock.now + 20.0) * 1000
    clock.now += 0.5
    assert held.start(P) is None  # from the moment the smaller lease is sent

    clock.now += 20.0
    assert held.to_commit(P, holding=False) is None  # nothing can be running any more


async def test_a_waiting_invocation_asks_for_a_renewal_and_goes_once_it_is_acknowledged() -> None:
    clock = Clock()
    held = leases(clock)
    waiting = asyncio.create_task(held.cover(P, asyncio.Event()))
    await held.renewal_wanted.wait()
    assert not waiting.done()

    held.acknowledged({P: held.to_commit(P, holding=True)})
    held.attempted()
    await asyncio.wait_for(waiting, 5)
    assert held.covers_a_start(P)


async def test_a_partition_let_go_stops_waiting_for_a_lease() -> None:
    held = leases(Clock())
    gone = asyncio.Event()
    waiting = asyncio.create_task(held.cover(P, gone))
    await held.renewal_wanted.wait()
    gone.set()
    await asyncio.wait_for(waiting, 5)
    assert not held.covers_a_start(P)


def test_a_failed_renewal_leaves_the_smaller_lease_in_force() -> None:
    clock = Clock()
    held = leases(clock)
    held.acknowledged({P: held.to_commit(P, holding=True)})
    granted = held.granted_until(P)
    clock.now += 5.0
    held.to_commit(P, holding=True)  # sent, never acknowledged
    assert held.granted_until(P) == granted
