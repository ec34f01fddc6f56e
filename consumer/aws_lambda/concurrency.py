"""Adaptive total concurrency: additive increase, multiplicative decrease (AIMD).

Invariants: at most `floor(limit)` permits are held at once; `min_limit <= limit <=
max_limit`. A throttle halves the limit once per "generation": throttles of invocations
that started before the last decrease reflect the old limit and do not cut it again, so
one burst of 429s halves it once, not to the floor. Each success adds 1/limit, so the
limit grows by about one per round of invocations while the function keeps up.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Permit:
    __slots__ = ("generation",)

    def __init__(self, generation: int) -> None:
        self.generation = generation


class AdaptiveLimit:
    def __init__(self, max_limit: int, min_limit: int = 1) -> None:
        self.max_limit = max_limit
        self.min_limit = min(min_limit, max_limit)
        self.limit = float(max_limit)
        self.in_use = 0
        self.throttles = 0
        self._generation = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def permit(self) -> AsyncIterator[Permit]:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_use < math.floor(self.limit))
            self.in_use += 1
        try:
            yield Permit(self._generation)
        finally:
            async with self._changed:
                self.in_use -= 1
                self._changed.notify_all()

    def on_success(self) -> None:
        self.limit = min(self.max_limit, self.limit + 1 / self.limit)

    def on_throttle(self, permit: Permit) -> None:
        self.throttles += 1
        if permit.generation == self._generation:
            self._generation += 1
            self.limit = max(self.min_limit, self.limit / 2)
