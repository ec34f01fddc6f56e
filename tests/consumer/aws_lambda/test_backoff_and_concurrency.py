"""The retry delays and the adaptive concurrency limit."""

from __future__ import annotations

import asyncio
import random

from consumer.aws_lambda.concurrency import AdaptiveLimit
from consumer.settings.backoff import Backoff


def test_full_jitter_delays_stay_under_the_doubling_cap_and_the_maximum() -> None:
    backoff = Backoff(base_s=0.1, max_s=2.0, rng=random.Random(1))
    for attempt in range(1, 40):
        cap = min(2.0, 0.1 * 2 ** (attempt - 1))
        delays = [backoff.delay_s(attempt) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap / 2, "delays should spread over the whole range"


async def test_permits_never_exceed_the_limit() -> None:
    limit = AdaptiveLimit(max_limit=3)
    peak = 0
    release = asyncio.Event()
    acquired: asyncio.Queue[None] = asyncio.Queue()

    async def hold() -> None:
        nonlocal peak
        async with limit.permit():
            peak = max(peak, limit.in_use)
            acquired.put_nowait(None)
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(10)]
    for _ in range(3):
        await acquired.get()
    assert limit.in_use == 3
    release.set()
    await asyncio.gather(*holders)
    assert peak == 3


async def test_one_burst_of_throttles_halves_the_limit_once() -> None:
    limit = AdaptiveLimit(max_limit=40)
    permits = []
    for _ in range(8):
        async with limit.permit() as permit:
            permits.append(permit)
    for permit in permits:  # eight 429s from invocations started at the same limit
        limit.on_throttle(permit)
    assert limit.limit == 20
    async with limit.permit() as later:
        pass
    limit.on_throttle(later)  # a throttle at the new limit cuts again
    assert limit.limit == 10
    assert limit.throttles == 9


async def test_successes_grow_the_limit_back_by_about_one_per_round() -> None:
    limit = AdaptiveLimit(max_limit=40)
    async with limit.permit() as permit:
        pass
    limit.on_throttle(permit)
    assert limit.limit == 20
    for _ in range(20):
        limit.on_success()
    assert 20.9 < limit.limit < 21.1
    for _ in range(10_000):
        limit.on_success()
    assert limit.limit == 40
