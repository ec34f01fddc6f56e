"""Leases: until when an invocation of a partition may still be running at Lambda.

An owner commits, with each partition's offset, a lease (consumer/ownership/handover.py): a
wall-clock time by which every invocation it started for the partition has ended. The lease is
granted ahead of the invocations: none starts unless it would end (its start, plus the
function's timeout and a margin: `invocation_s`) within the lease the broker has acknowledged.
So whatever happens to the owner — a revoke, a stop out of its budget, a SIGKILL — the next
owner that waits out the lease never invokes a key while an invocation of it still runs here.

A partition with work keeps its lease `ahead_s` beyond what its next start needs, renewed with
every commit, so starts rarely wait for one; an idle partition's lease shrinks, at its next
commit, to what may still be running (nothing, once every invocation has answered), so a
member killed while idle makes its partitions' next owners wait for nothing.

Invariants:
- `_granted[p]` is never above a lease the broker acknowledged for p (it is lowered before a
  smaller lease is sent, raised only after a larger one is acknowledged);
- `start(p)` admits an invocation only when now + `invocation_s` ≤ `_granted[p]`;
- `_running[p]` holds the deadline of every admitted invocation of p that may still be
  running at Lambda: removed when Lambda answered, kept to its deadline otherwise (a network
  error or a read timeout says nothing about the function).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable

from aiokafka.structs import TopicPartition

Clock = Callable[[], float]  # wall-clock seconds since the Unix epoch (time.time)


class Leases:
    def __init__(self, invocation_s: float, ahead_s: float, clock: Clock = time.time) -> None:
        self.invocation_s = invocation_s
        self.ahead_s = ahead_s
        self.clock = clock
        self._granted: dict[TopicPartition, float] = {}
        self._running: dict[TopicPartition, dict[int, float]] = {}
        self._tokens = itertools.count()
        # Set when an invocation waits for a longer lease: the committer commits at once.
        self.renewal_wanted = asyncio.Event()
        self._attempted = asyncio.Event()  # replaced after each commit attempt

    # -- the delivery side ------------------------------------------------------------------

    def covers_a_start(self, partition: TopicPartition) -> bool:
        return self.clock() + self.invocation_s <= self._granted.get(partition, -math.inf)

    async def cover(self, partition: TopicPartition, gone: asyncio.Event) -> None:
        """Returns once an invocation of `partition` starting now is within its lease, or
        `gone` is set (the partition is let go: the caller starts nothing)."""
        while not self.covers_a_start(partition) and not gone.is_set():
            self.renewal_wanted.set()
            attempted = self._attempted
            waits = {asyncio.ensure_future(attempted.wait()), asyncio.ensure_future(gone.wait())}
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()

    def start(self, partition: TopicPartition) -> int | None:
        """Admits an invocation starting now (a token for `end`), or None when the lease no
        longer covers one (wait with `cover` again)."""
        if not self.covers_a_start(partition):
            return None
        token = next(self._tokens)
        self._running.setdefault(partition, {})[token] = self.clock() + self.invocation_s
        return token

    def end(self, partition: TopicPartition, token: int, *, answered: bool) -> None:
        """The invocation is over for the bridge; if Lambda `answered`, it is over there too."""
        if answered:
            self._running.get(partition, {}).pop(token, None)

    # -- the committing side ----------------------------------------------------------------

    def may_run_until(self, partition: TopicPartition) -> float | None:
        """The latest deadline of an invocation of `partition` that may still be running."""
        running = self._running.get(partition)
        if not running:
            return None
        now = self.clock()
        for token in [token for token, deadline in running.items() if deadline <= now]:
            del running[token]
        return max(running.values(), default=None)

    def to_commit(self, partition: TopicPartition, *, holding: bool) -> int | None:
        """The lease (epoch ms) to commit now for `partition`: `holding` (it has work) a lease
        ahead of its next starts, else only what may still be running (None: nothing). Call
        right before the commit is sent, under the one lock commits take; `acknowledged`
        after it succeeds."""
        if holding:
            lease: int | None = _ms(self.clock() + self.invocation_s + self.ahead_s)
        else:
            running = self.may_run_until(partition)
            lease = None if running is None else _ms(running)
        # Until acknowledged, a start may count only on the smaller of the two leases.
        granted = self._granted.get(partition)
        if granted is not None:
            self._granted[partition] = min(granted, -math.inf if lease is None else lease / 1000)
        return lease

    def granted_until(self, partition: TopicPartition) -> float | None:
        """The lease starts of `partition` count on (never above what the broker holds)."""
        return self._granted.get(partition)

    def acknowledged(self, leases: dict[TopicPartition, int | None]) -> None:
        """The broker holds these leases now."""
        for partition, lease in leases.items():
            if lease is None:
                self._granted.pop(partition, None)
            else:
                self._granted[partition] = lease / 1000

    def attempted(self) -> None:
        """A commit was tried (whether it succeeded or not): waiters look again."""
        self._attempted.set()
        self._attempted = asyncio.Event()

    def forget(self, partition: TopicPartition) -> None:
        """The partition is no longer this member's: its next owner goes by the lease."""
        self._granted.pop(partition, None)
        self._running.pop(partition, None)


def _ms(seconds: float) -> int:
    """Epoch milliseconds, rounded up to the second: a lease changes once a second at most."""
    return math.ceil(seconds) * 1000
