"""Records held for their schemas: a partition whose records name a schema not fetched yet
waits, paused, while a task of its own fetches it; then its records go on, in fetch order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka.structs import TopicPartition

from consumer.records import KafkaRecord
from consumer.schemas.record_decoding import RecordDecoding

HeldRecords = list[Sequence[KafkaRecord]]


class SchemaHolds:
    """The fetched records of each partition that wait for schemas, and the task resolving them.

    Invariants: records held are in no lane, so no commit reaches them; a partition with held
    records has one resolving task, which hands them to `release(partition, held)` in fetch
    order once every schema they name is resolved, and nothing fetched after them for their
    partition is released first (it is held behind them); a resolving task that dies of
    anything but cancellation is reported to `failed`, never left to hold its partition.
    """

    def __init__(
        self,
        release: Callable[[TopicPartition, HeldRecords], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        self._release = release
        self._failed = failed  # a resolving task died: its partition would wait forever
        self.held: dict[TopicPartition, HeldRecords] = {}
        self._resolving: dict[TopicPartition, asyncio.Task[None]] = {}

    def holds(self, partition: TopicPartition) -> bool:
        return partition in self.held

    def hold(
        self,
        partition: TopicPartition,
        records: Sequence[KafkaRecord],
        schemas: RecordDecoding[Any],
    ) -> None:
        """Keeps the records back, behind any held before them, until their schemas are
        resolved (retried until the registry answers)."""
        self.held.setdefault(partition, []).append(records)
        if partition not in self._resolving:
            task = asyncio.create_task(
                self._release_when_resolved(partition, schemas), name=f"schemas for {partition}"
            )
            task.add_done_callback(self._check)
            self._resolving[partition] = task

    async def _release_when_resolved(
        self, partition: TopicPartition, schemas: RecordDecoding[Any]
    ) -> None:
        try:
            while held := self.held.get(partition):
                needed = set().union(*(schemas.refs(records) for records in held))
                if needed:  # retried inside until the registry answers; cancelled on revoke
                    await schemas.resolve(needed)
                    continue  # more may have been held meanwhile: look again
                del self.held[partition]
                self._release(partition, held)
        finally:
            self._resolving.pop(partition, None)

    def _check(self, task: asyncio.Task[None]) -> None:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self._failed(error)

    def forget(self, partition: TopicPartition) -> None:
        """The partition is let go: its held records are never in a lane, so its next owner
        fetches them again."""
        self.held.pop(partition, None)
        resolving = self._resolving.pop(partition, None)
        if resolving is not None:
            resolving.cancel()

    async def cancel_all(self) -> None:
        resolving = list(self._resolving.values())
        for task in resolving:
            task.cancel()  # held records are not committed: fetched again on restart
        await asyncio.gather(*resolving, return_exceptions=True)
