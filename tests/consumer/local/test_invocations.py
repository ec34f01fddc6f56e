"""InvocationRecord: arrival order, in-flight bookkeeping, and waiting from any thread or loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from consumer.local.invocations import (
    Arrival,
    Invocation,
    InvocationRecord,
    InvocationType,
    Outcome,
)


def invocation(
    function_name: str = "f",
    event: Any = None,
    outcome: Outcome = Outcome.OK,
    started_at: float = 0.0,
) -> Invocation:
    arrival = Arrival(
        request_id=f"req-{started_at}",
        function_name=function_name,
        qualifier=None,
        invocation_type=InvocationType.REQUEST_RESPONSE,
        started_at=started_at,
    )
    return arrival.finish(outcome, event=event)


def in_thread(action: Any) -> threading.Thread:
    thread = threading.Thread(target=action)
    thread.start()
    return thread


def test_invocations_are_listed_in_order_of_arrival_not_completion() -> None:
    record = InvocationRecord()
    record.add(invocation(event="second", started_at=2.0))
    record.add(invocation(event="first", started_at=1.0))
    assert record.events("f") == ["first", "second"]


def test_events_are_those_the_function_was_given() -> None:
    record = InvocationRecord()
    for n, outcome in enumerate(Outcome):
        record.add(invocation(event=outcome.value, outcome=outcome, started_at=n))
    assert record.events("f") == ["ok", "function_error", "timeout"]


def test_began_refuses_beyond_the_limit_and_tracks_the_peak() -> None:
    record = InvocationRecord()
    assert record.began("f", limit=2)
    assert record.began("f", limit=2)
    assert not record.began("f", limit=2)
    record.finished(invocation())
    assert record.in_flight("f") == 1
    assert record.began("f", limit=2)
    assert record.peak_in_flight("f") == 2
    assert record.in_flight("other") == 0


def test_max_kept_drops_the_oldest_arrivals() -> None:
    record = InvocationRecord(max_kept=2)
    for n in range(4):
        record.add(invocation(event=n, started_at=n))
    assert record.events("f") == [2, 3]


def test_wait_until_returns_once_another_thread_satisfies_it() -> None:
    record = InvocationRecord()
    writer = in_thread(lambda: record.add(invocation(event="done")))
    record.wait_until(lambda r: r.events("f") == ["done"], timeout_s=10)
    writer.join()


def test_wait_until_times_out_with_what_the_record_holds() -> None:
    record = InvocationRecord()
    record.add(invocation(outcome=Outcome.THROTTLED))
    record.began("g")
    with pytest.raises(TimeoutError) as raised:
        record.wait_until(lambda r: len(r.events("f")) == 1, timeout_s=0.01)
    assert "f throttled: 1" in str(raised.value)
    assert "in flight: g: 1" in str(raised.value)


async def test_wait_until_async_wakes_on_a_change_from_another_thread() -> None:
    record = InvocationRecord()
    waiting = asyncio.create_task(record.wait_until_async(lambda r: r.in_flight("f") == 1, 10))
    await asyncio.sleep(0)  # let the waiter register before the change
    writer = in_thread(lambda: record.began("f"))
    await waiting
    writer.join()


async def test_wait_until_async_returns_at_once_when_already_true() -> None:
    record = InvocationRecord()
    record.add(invocation())
    await record.wait_until_async(lambda r: len(r.invocations()) == 1, timeout_s=0)


async def test_wait_until_async_times_out() -> None:
    record = InvocationRecord()
    with pytest.raises(TimeoutError, match="record has no invocations"):
        await record.wait_until_async(lambda r: False, timeout_s=0.01)


async def test_a_failing_predicate_raises_in_the_waiter_not_in_the_writer() -> None:
    record = InvocationRecord()

    def predicate(r: InvocationRecord) -> bool:
        if r.invocations():
            raise ValueError("predicate bug")
        return False

    waiting = asyncio.create_task(record.wait_until_async(predicate, 10))
    await asyncio.sleep(0)  # let the waiter register
    record.add(invocation())  # must not raise here
    with pytest.raises(ValueError, match="predicate bug"):
        await waiting


async def test_cancelled_async_waiter_is_forgotten() -> None:
    record = InvocationRecord()
    evaluations: list[int] = []

    def predicate(r: InvocationRecord) -> bool:
        evaluations.append(len(r.invocations()))
        return False

    waiting = asyncio.create_task(record.wait_until_async(predicate, 10))
    await asyncio.sleep(0)  # let the waiter register
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    record.add(invocation())
    assert evaluations == [0]  # evaluated on registering, never again
