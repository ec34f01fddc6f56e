"""The one retry policy: exponential backoff with full jitter.

Full jitter (a uniform delay between 0 and the exponential cap) spreads the retries of
many batches that failed together, so they do not return to a throttled function at once.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, base_s: float, max_s: float, rng: random.Random | None = None) -> None:
        self._base_s = base_s
        self._max_s = max_s
        self._rng = rng or random.Random()

    def delay_s(self, attempt: int) -> float:
        """The wait before retry number `attempt` (1 for the first retry)."""
        cap = min(self._max_s, self._base_s * 2 ** min(attempt - 1, 62))
        return self._rng.uniform(0, cap)
