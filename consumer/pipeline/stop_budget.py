"""The stop's budget: SHUTDOWN_TIMEOUT_SECONDS, shared out between finishing the invocations
in flight, the last commit and leaving the group, so that the whole stop fits it."""

from __future__ import annotations

import asyncio
import time

# Of SHUTDOWN_TIMEOUT_SECONDS, what the drain leaves for the last commit and leaving the group
# (half the timeout when that is shorter than twice this).
STOP_RESERVE_S = 2.0
# Leaving the group is given at least this long, even when the drain used up the budget.
LEAVE_AT_LEAST_S = 0.5


class StopBudget:
    """When the stop that `start` begins must be over (monotonic seconds).

    Invariants: `started` is set once, by the first `start`; before it both deadlines are None,
    after it neither is, and `drain_deadline` is `STOP_RESERVE_S` (or half the budget) before
    `stop_deadline`; every drain, a rebalance's included, ends by `drain_deadline`.
    """

    def __init__(self, budget_s: float) -> None:
        self._budget_s = budget_s
        self.started = asyncio.Event()
        self.stop_deadline: float | None = None
        self.drain_deadline: float | None = None

    def start(self) -> None:
        """Starts the clock; a second call changes nothing."""
        if self.started.is_set():
            return
        self.stop_deadline = time.monotonic() + self._budget_s
        self.drain_deadline = self.stop_deadline - min(STOP_RESERVE_S, self._budget_s / 2)
        self.started.set()

    def drain_left_s(self) -> float:
        """What is left for finishing the invocations in flight."""
        assert self.drain_deadline is not None, "set by start()"
        return self.drain_deadline - time.monotonic()

    def final_step_s(self) -> float:
        """What a last step (the last commit, leaving the group) may take: what is left of the
        budget, and at least LEAVE_AT_LEAST_S."""
        assert self.stop_deadline is not None, "set by start()"
        return max(self.stop_deadline - time.monotonic(), LEAVE_AT_LEAST_S)
