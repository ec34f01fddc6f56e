"""Batch windows (BATCH_WINDOW_MS): a partial batch waits a little for more records, so a
trickle is sent in fuller batches; a full batch, the window's end or shutdown sends it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka.structs import TopicPartition

from consumer.pipeline.lanes import Lane


class BatchWindows:
    """One window per partition, opened when records wait with no full batch among them.

    Invariants: `_opened_at` holds a partition while its lane has records waiting that were
    held back, from the moment they started waiting; `_timers` holds at most one timer per
    partition, which calls `on_end(partition, lane)` once the window has passed.
    """

    def __init__(
        self, window_ms: int, batch_size: int, on_end: Callable[[TopicPartition, Lane], None]
    ) -> None:
        self._window_s = window_ms / 1000
        self._batch_size = batch_size
        self._on_end = on_end
        self._opened_at: dict[TopicPartition, float] = {}
        self._timers: dict[TopicPartition, asyncio.TimerHandle] = {}

    def holds_back(self, partition: TopicPartition, lane: Lane, *, closing: bool) -> bool:
        """True while the window holds the lane's partial batch back to let it fill."""
        window_s = self._window_s
        if window_s == 0 or closing or lane.pending_records >= self._batch_size:
            return False
        now = time.monotonic()
        opened_at = self._opened_at.setdefault(partition, now)
        if now - opened_at >= window_s:
            return False
        if partition not in self._timers:
            self._timers[partition] = asyncio.get_running_loop().call_later(
                opened_at + window_s - now, self._ended, partition, lane
            )
        return True

    def dispatched(self, partition: TopicPartition, lane: Lane) -> None:
        """After the lane's batches went: what is left starts waiting now."""
        if lane.pending_records:
            self._opened_at[partition] = time.monotonic()
        else:
            self._opened_at.pop(partition, None)

    def forget(self, partition: TopicPartition) -> None:
        """The partition was revoked."""
        self._opened_at.pop(partition, None)
        timer = self._timers.pop(partition, None)
        if timer is not None:
            timer.cancel()

    def _ended(self, partition: TopicPartition, lane: Lane) -> None:
        self._timers.pop(partition, None)
        self._on_end(partition, lane)
