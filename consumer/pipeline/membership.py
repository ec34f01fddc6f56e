"""Membership: the partitions this member owns, and what a rebalance does to them.

A revoked partition starts no invocation, retries included; it is let go once its invocations
in flight have ended, waiting until none can still be running at Lambda (the function's
timeout and a margin), so the partition's next owner never invokes a key while an invocation
of it here still runs. An assigned partition gets a new lane, and, when the starting position
is a moment, is sought to it if its group has no committed offset.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.structs import TopicPartition

from consumer.aws_lambda.invoker import LambdaInvoker
from consumer.kafka.connection import consumer_arguments
from consumer.pipeline.batch_windows import BatchWindows
from consumer.pipeline.delivery import Delivery
from consumer.pipeline.lanes import Lane
from consumer.pipeline.schema_holds import SchemaHolds
from consumer.pipeline.stop_budget import StopBudget
from consumer.records import RecordEncoder
from consumer.settings.model import BridgeSettings

log = logging.getLogger("consumer.bridge")

# Lambda ends an invocation at the function's timeout; its answer may take a little longer
# to arrive. A revoke waits for invocations in flight this much beyond that timeout.
INVOCATION_END_MARGIN_S = 5.0
# The group's rebalance timeout leaves this much beyond the revoke's wait to rejoin.
REJOIN_MARGIN_MS = 10_000


@dataclass
class OwnedPartitions:
    """What the bridge keeps for each partition it owns (the mappings are shared, live).

    Invariants: a partition is in `lanes` and `in_flight` from its assignment until it is let
    go, and in neither otherwise; `paused`, `closing` and `committed` name only partitions of
    `lanes`; a partition in `closing` is being revoked and gets no new batch.
    """

    lanes: dict[TopicPartition, Lane] = field(default_factory=dict)
    in_flight: dict[TopicPartition, set[asyncio.Task[None]]] = field(default_factory=dict)
    paused: set[TopicPartition] = field(default_factory=set)
    closing: set[TopicPartition] = field(default_factory=set)
    committed: dict[TopicPartition, int] = field(default_factory=dict)


class Membership:
    """Takes the group's assignments and revocations for the bridge.

    `commit(partitions)` commits what is done of them; `consumer()` is the bridge's consumer.
    """

    def __init__(
        self,
        settings: BridgeSettings,
        owned: OwnedPartitions,
        *,
        encoder: RecordEncoder,
        delivery: Delivery,
        windows: BatchWindows,
        holds: SchemaHolds,
        stop: StopBudget,
        commit: Callable[[Collection[TopicPartition]], Awaitable[None]],
        consumer: Callable[[], AIOKafkaConsumer],
    ) -> None:
        self._settings = settings
        self._owned = owned
        self._encoder = encoder
        self._delivery = delivery
        self._windows = windows
        self._holds = holds
        self._stop = stop
        self._commit = commit
        self._consumer = consumer
        # How long a revoke waits for its partitions' invocations in flight: until none can
        # still be running at Lambda, once the function's timeout is known.
        self.revoke_wait_s = settings.revoke_timeout_ms / 1000

    def listener(self) -> ConsumerRebalanceListener:
        return _Rebalance(self)

    async def size_the_revoke_wait(self, invoker: LambdaInvoker) -> None:
        """A revoke waits for invocations in flight until Lambda has ended them (the
        function's timeout and a margin), so the partition's next owner never invokes a key
        while this bridge's invocation of it still runs. Without the timeout, REVOKE_TIMEOUT_MS."""
        timeout_s, why_not = await invoker.function_timeout_s()
        if timeout_s is None:
            log.warning(
                "could not read the function's timeout; a rebalance waits REVOKE_TIMEOUT_MS "
                "for invocations in flight, and one still running after that may overlap with "
                "its partition's next owner (grant lambda:GetFunctionConfiguration)",
                extra={"fields": {"error": why_not, "revoke_wait_s": self.revoke_wait_s}},
            )
            return
        self.revoke_wait_s = timeout_s + INVOCATION_END_MARGIN_S

    def consumer_arguments(self) -> dict[str, Any]:
        """The consumer's arguments, with a rebalance timeout the revoke's wait fits in."""
        arguments = consumer_arguments(self._settings)
        needed_ms = int(self.revoke_wait_s * 1000) + REJOIN_MARGIN_MS
        if arguments["rebalance_timeout_ms"] < needed_ms:
            log.info(
                "the group's rebalance timeout is raised so the wait for invocations in flight "
                "fits in it",
                extra={
                    "fields": {
                        "rebalance_timeout_ms": needed_ms,
                        "configured_ms": arguments["rebalance_timeout_ms"],
                    }
                },
            )
            arguments["rebalance_timeout_ms"] = needed_ms
        return arguments

    async def revoke(self, partitions: Collection[TopicPartition]) -> None:
        owned = self._owned
        revoked = [p for p in partitions if p in owned.lanes]
        if not revoked:
            return
        started = time.monotonic()
        owned.closing.update(revoked)
        for partition in revoked:  # no new invocation; a retry in backoff gives up now
            self._delivery.let_go(partition.topic, partition.partition)
        in_flight = sum(len(owned.in_flight.get(p, ())) for p in revoked)
        log.info(
            "revoking partitions: waiting for their invocations in flight",
            extra={"fields": {"batches": in_flight, "at_most_s": self.revoke_wait_s}},
        )
        await self._drain(self.revoke_wait_s, revoked)
        await self._commit(revoked)
        await self.cancel(revoked)
        for partition in revoked:
            self._holds.forget(partition)  # never in a lane: their new owner fetches them
            owned.lanes.pop(partition, None)
            owned.in_flight.pop(partition, None)
            owned.paused.discard(partition)
            owned.committed.pop(partition, None)
            owned.closing.discard(partition)
            self._windows.forget(partition)
        log.info(
            "partitions revoked",
            extra={
                "fields": {"partitions": _names(revoked), "drain_s": time.monotonic() - started}
            },
        )

    async def assign(self, partitions: Collection[TopicPartition]) -> None:
        settings = self._settings
        for partition in partitions:
            self._delivery.take_back(partition.topic, partition.partition)
            self._owned.lanes[partition] = Lane(
                topic=partition.topic,
                partition=partition.partition,
                ordering=settings.ordering,
                encoder=self._encoder,
                max_in_flight=settings.max_in_flight_per_partition,
                max_batch_records=settings.batch_size,
                max_batch_bytes=settings.effective_batch_max_bytes,
                max_buffered_records=settings.max_buffered_records_per_partition,
                max_buffered_bytes=settings.max_buffered_bytes_per_partition,
            )
            self._owned.in_flight[partition] = set()
        if settings.starting_timestamp_ms is not None:
            await self._seek_to_start_time(partitions, settings.starting_timestamp_ms)
        log.info("partitions assigned", extra={"fields": {"partitions": _names(partitions)}})

    async def _seek_to_start_time(
        self, partitions: Collection[TopicPartition], timestamp_ms: int
    ) -> None:
        consumer = self._consumer()
        fresh = [p for p in partitions if await consumer.committed(p) is None]
        if not fresh:
            return
        found = await consumer.offsets_for_times({p: timestamp_ms for p in fresh})
        for partition in fresh:
            at = found.get(partition)
            if at is None:
                await consumer.seek_to_end(partition)  # nothing that recent yet
            else:
                consumer.seek(partition, at.offset)

    async def _drain(self, timeout_s: float, partitions: Collection[TopicPartition]) -> None:
        """Waits up to `timeout_s` for the in-flight batches of `partitions` to finish, and
        no longer than a stop allows, if the bridge is stopping (or starts to meanwhile)."""
        running = {task for p in partitions for task in self._owned.in_flight.get(p, ())}
        deadline = time.monotonic() + timeout_s
        stop = self._stop
        while running:
            until = deadline
            if stop.drain_deadline is not None:
                until = min(until, stop.drain_deadline)
            remaining_s = until - time.monotonic()
            if remaining_s <= 0:
                return
            # Until the bridge stops, a stop starting meanwhile shortens the wait: wake for it.
            waited: set[asyncio.Future[Any]] = set(running)
            if not stop.started.is_set():
                waited.add(asyncio.ensure_future(stop.started.wait()))
            try:
                await asyncio.wait(waited, timeout=remaining_s, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for future in waited - running:
                    future.cancel()
            running = {task for task in running if not task.done()}

    async def cancel(self, partitions: Collection[TopicPartition]) -> None:
        """Cancels the partitions' batches in flight: none of their records is marked done."""
        running = [task for p in partitions for task in self._owned.in_flight.get(p, ())]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, membership: Membership) -> None:
        self._membership = membership

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        await self._membership.revoke(revoked)

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        await self._membership.assign(assigned)


def _names(partitions: Collection[TopicPartition]) -> list[str]:
    return sorted(f"{p.topic}-{p.partition}" for p in partitions)
