"""The record of what each function of the local Lambda received, and ways to wait on it.

The server writes it from its own loop (maybe in another thread); tests read it and wait on it
from theirs: every access takes one lock, and every change wakes the waiters.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class InvocationType(StrEnum):
    """The X-Amz-Invocation-Type header's values."""

    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"
    DRY_RUN = "DryRun"


class Outcome(StrEnum):
    OK = "ok"
    FUNCTION_ERROR = "function_error"  # the handler (or a fault knob) raised
    TIMEOUT = "timeout"
    THROTTLED = "throttled"
    SERVICE_ERROR = "service_error"
    TOO_LARGE = "too_large"
    DRY_RUN = "dry_run"
    NOT_FOUND = "not_found"
    INVALID_REQUEST = "invalid_request"
    ABORTED = "aborted"  # did not complete: the server stopped, or a knob's predicate raised


# Outcomes where the function was given the event.
DELIVERED = frozenset({Outcome.OK, Outcome.FUNCTION_ERROR, Outcome.TIMEOUT})


@dataclass(frozen=True)
class Invocation:
    """One invoke request and what became of it. Times are time.monotonic() seconds."""

    request_id: str
    function_name: str
    qualifier: str | None
    invocation_type: str
    event: Any  # the decoded JSON payload; None when it was not decoded (too large, not JSON)
    outcome: Outcome
    response: Any  # the handler's return value, or the error object Lambda answered with
    started_at: float  # when the request had arrived in full
    ended_at: float
    latency_s: float = 0.0  # injected by the latency knob

    @property
    def duration_s(self) -> float:
        return self.ended_at - self.started_at


@dataclass(frozen=True)
class Arrival:
    """What is known of an invocation when its request arrives; completed by `finish`."""

    request_id: str
    function_name: str
    qualifier: str | None
    invocation_type: str
    started_at: float

    def finish(
        self, outcome: Outcome, *, event: Any = None, response: Any = None, latency_s: float = 0.0
    ) -> Invocation:
        return Invocation(
            request_id=self.request_id,
            function_name=self.function_name,
            qualifier=self.qualifier,
            invocation_type=self.invocation_type,
            event=event,
            outcome=outcome,
            response=response,
            started_at=self.started_at,
            ended_at=time.monotonic(),
            latency_s=latency_s,
        )


RecordPredicate = Callable[["InvocationRecord"], bool]
Listener = Callable[[Invocation], None]


@dataclass
class _AsyncWaiter:
    predicate: RecordPredicate
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


class InvocationRecord:
    """Every invocation, in order of arrival, and each function's in-flight count and peak.

    Invariants: `in_flight(f)` counts invocations of f between `began` and `finished` (the
    concurrency knob reads it); an invocation is listed before its in-flight slot is released,
    in the same locked step, so a waiter that sees in_flight drop also sees the invocation.
    With `max_kept`, only the latest arrivals are kept (long local-mode runs); counts and peaks
    are not affected.
    """

    def __init__(self, max_kept: int | None = None) -> None:
        self._max_kept = max_kept
        # Reentrant, so a waiting predicate may call this record's accessors.
        self._changed = threading.Condition(threading.RLock())
        self._invocations: list[Invocation] = []
        self._in_flight: Counter[str] = Counter()
        self._peak: Counter[str] = Counter()
        self._async_waiters: list[_AsyncWaiter] = []
        self._listeners: list[Listener] = []

    # Written by the server.

    def began(self, function_name: str, limit: int | None = None) -> bool:
        """Takes an in-flight slot, unless `limit` are taken already (then returns False)."""
        with self._changed:
            if limit is not None and self._in_flight[function_name] >= limit:
                return False
            self._in_flight[function_name] += 1
            self._peak[function_name] = max(
                self._peak[function_name], self._in_flight[function_name]
            )
            self._notify()
            return True

    def finished(self, invocation: Invocation) -> None:
        """Lists an invocation that `began`, and releases its in-flight slot."""
        with self._changed:
            self._in_flight[invocation.function_name] -= 1
            self._add(invocation)

    def add(self, invocation: Invocation) -> None:
        """Lists an invocation that never went in flight (refused, or a dry run)."""
        with self._changed:
            self._add(invocation)

    def _add(self, invocation: Invocation) -> None:
        # Completion order differs from arrival order; keep the list sorted by arrival.
        bisect.insort(self._invocations, invocation, key=lambda i: i.started_at)
        if self._max_kept is not None and len(self._invocations) > self._max_kept:
            del self._invocations[0]
        for listener in self._listeners:
            listener(invocation)
        self._notify()

    def listen(self, listener: Listener) -> None:
        """Calls `listener(invocation)` for every invocation listed from now on, even those
        `max_kept` drops: on the thread that lists it, with this record's lock held."""
        with self._changed:
            self._listeners.append(listener)

    # Read by anyone.

    def invocations(self, function_name: str | None = None) -> list[Invocation]:
        with self._changed:
            return [
                i
                for i in self._invocations
                if function_name is None or i.function_name == function_name
            ]

    def events(self, function_name: str) -> list[Any]:
        """The events the function was given (outcome ok, function_error or timeout)."""
        return [i.event for i in self.invocations(function_name) if i.outcome in DELIVERED]

    def outcomes(self, function_name: str) -> list[Outcome]:
        return [i.outcome for i in self.invocations(function_name)]

    def in_flight(self, function_name: str) -> int:
        with self._changed:
            return self._in_flight[function_name]

    def peak_in_flight(self, function_name: str) -> int:
        with self._changed:
            return self._peak[function_name]

    # Waiting.

    def wait_until(self, predicate: RecordPredicate, timeout_s: float) -> None:
        """Blocks until `predicate(record)` holds; TimeoutError after `timeout_s`.

        Not from the server's own event loop (it would stop the server): use wait_until_async.

        Example::

            record.wait_until(lambda r: len(r.events("orders")) == 3, timeout_s=10)
        """
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self), timeout_s):
                raise TimeoutError(self._timeout_message(timeout_s))

    async def wait_until_async(self, predicate: RecordPredicate, timeout_s: float) -> None:
        """Awaits `predicate(record)` from any event loop, the server's included; cancellable."""
        loop = asyncio.get_running_loop()
        waiter = _AsyncWaiter(predicate, loop, loop.create_future())
        with self._changed:
            if predicate(self):
                return
            self._async_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter.future, timeout_s)
        except TimeoutError:
            raise TimeoutError(self._timeout_message(timeout_s)) from None
        finally:
            with self._changed:
                if waiter in self._async_waiters:
                    self._async_waiters.remove(waiter)

    def _notify(self) -> None:
        # Called with the lock held, on whichever thread changed the record.
        self._changed.notify_all()
        waiting: list[_AsyncWaiter] = []
        for waiter in self._async_waiters:
            try:
                error: Exception | None = None
                if not waiter.predicate(self):
                    waiting.append(waiter)
                    continue
            except Exception as exc:  # the waiter's bug: raise it in the waiter, not here
                error = exc
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits any more
                waiter.loop.call_soon_threadsafe(_resolve, waiter.future, error)
        self._async_waiters = waiting

    def _timeout_message(self, timeout_s: float) -> str:
        with self._changed:
            seen = Counter((i.function_name, i.outcome.value) for i in self._invocations)
            flying = sorted(self._in_flight.items())
        summary = ", ".join(f"{name} {outcome}: {n}" for (name, outcome), n in sorted(seen.items()))
        in_flight = ", ".join(f"{name}: {n}" for name, n in flying if n)
        return (
            f"condition not met within {timeout_s} s; record has {summary or 'no invocations'}"
            f"; in flight: {in_flight or 'none'}"
        )


def _resolve(future: asyncio.Future[None], error: Exception | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
