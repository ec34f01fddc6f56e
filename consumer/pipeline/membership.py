"""Membership: the partitions this member owns, and what a rebalance does to them.

aiokafka speaks the eager protocol: a rebalance revokes every partition of every member, then
assigns anew. The bridge makes it cost only what moves:
- the assignor is sticky (consumer/ownership/assignor.py): a partition stays with its member
  unless the balance needs it elsewhere;
- a revoke commits every partition with its lease and done offsets and returns at once; its
  lanes keep delivering, within the leases they hold, while the group rebalances;
- at the assignment, a partition that stayed goes on where it was (it is sought back to
  what its lane has fetched, as aiokafka would restart it at the committed offset); a
  partition that moved away starts nothing more, and once its invocations here are over it
  is released (a commit of what was done since, with no lease left); a partition that
  arrives is delivered at once when its committed metadata carries no live lease, and
  otherwise waits, paused, until the lease and the clock margin have passed or its previous
  owner released it; records its previous owner did above the committed offset are done
  without an invocation.

Invariants:
- a partition is in at most one of `owned.lanes` (delivering) and `owned.waiting` (assigned,
  its previous owner's lease not over), and in `owned.in_flight` exactly when it is in
  `owned.lanes`; one in `self._releasing` (lost, its invocations here not over) is in
  neither, unless it came back, when it waits like any other for its own release;
- no invocation of a partition starts outside `owned.lanes` (Delivery lets it go) or
  beyond the lease the broker holds for it (Leases), so its next owner, waiting out that
  lease (plus the clock margin) or for the release, never invokes a key while an
  invocation of it still runs here — after a revoke, a stop out of its budget or a SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from consumer.kafka.group_offsets import read_committed
from consumer.operations.counters import Counters
from consumer.ownership import handover
from consumer.ownership.leases import Leases
from consumer.pipeline.batch_windows import BatchWindows
from consumer.pipeline.commits import Committer
from consumer.pipeline.delivery import Delivery
from consumer.pipeline.lanes import Lane
from consumer.pipeline.schema_holds import SchemaHolds
from consumer.records import RecordEncoder
from consumer.settings.model import BridgeSettings

log = logging.getLogger("consumer.bridge")

# Lambda ends an invocation at the function's timeout; its answer may take a little longer
# to arrive. An invocation's lease runs this much beyond that timeout.
INVOCATION_END_MARGIN_S = 5.0
# How often a partition waiting for its previous owner's lease reads the committed metadata
# again, to see whether that owner released it earlier.
RELEASE_POLL_S = 0.25
# How far ahead of its next starts a partition with work holds its lease: longer than a
# rebalance usually takes (members notice one at their next heartbeat, 3 s apart by
# default), so a partition that stays starts invocations all through it.
LEASE_AHEAD_S = 10.0


@dataclass
class OwnedPartitions:
    """What the bridge keeps for each partition it owns (the mappings are shared, live).

    `paused` and `committed` name only partitions of `lanes` or `waiting`; `fetched_to` is
    the offset after the last record fetched for a partition of `lanes`; `done_before` the
    offsets its previous owner did above the committed one, not yet fetched.
    """

    lanes: dict[TopicPartition, Lane] = field(default_factory=dict)
    in_flight: dict[TopicPartition, set[asyncio.Task[None]]] = field(default_factory=dict)
    paused: set[TopicPartition] = field(default_factory=set)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    fetched_to: dict[TopicPartition, int] = field(default_factory=dict)
    waiting: dict[TopicPartition, asyncio.Task[None]] = field(default_factory=dict)
    done_before: dict[TopicPartition, frozenset[int]] = field(default_factory=dict)


class Membership:
    """Takes the group's assignments and revocations for the bridge."""

    def __init__(
        self,
        settings: BridgeSettings,
        owned: OwnedPartitions,
        *,
        encoder: RecordEncoder,
        delivery: Delivery,
        windows: BatchWindows,
        holds: SchemaHolds,
        leases: Leases,
        committer: Committer,
        counters: Counters,
        consumer: Callable[[], AIOKafkaConsumer],
    ) -> None:
        self._settings = settings
        self._owned = owned
        self._encoder = encoder
        self._delivery = delivery
        self._windows = windows
        self._holds = holds
        self._leases = leases
        self._committer = committer
        self._counters = counters
        self._consumer = consumer
        self._clock_margin_s = settings.clock_skew_margin_ms / 1000
        self._releasing: dict[TopicPartition, asyncio.Task[None]] = {}
        self._rebalance_started: float | None = None  # at the revoke; None before the first

    def listener(self) -> ConsumerRebalanceListener:
        return _Rebalance(self)

    def owned_now(self) -> list[TopicPartition]:
        """What this member claims at its next JoinGroup: what it delivers or waits for."""
        return [*self._owned.lanes, *self._owned.waiting]

    # -- the rebalance ------------------------------------------------------------------

    async def revoke(self, partitions: Collection[TopicPartition]) -> None:
        """Every partition, at every rebalance (eager protocol): commit, and go on."""
        if self._committer.keeps_metadata is False:
            await self._revoke_without_leases()
        await self._committer.commit(list(self._owned.lanes))
        self._committer.stable.clear()
        self._rebalance_started = time.monotonic()
        log.info("rebalancing", extra={"fields": {"partitions": len(self._owned.lanes)}})

    async def _revoke_without_leases(self) -> None:
        """Brokers that drop a commit's metadata carry no lease: every partition stops
        invoking, waits for its invocations in flight until none can still be running,
        commits, and is let go; the assignment then opens each partition afresh."""
        owned = self._owned
        partitions = list(owned.lanes)
        for partition in partitions:
            self._delivery.let_go(partition.topic, partition.partition)
        running = {task for p in partitions for task in owned.in_flight[p]}
        if running:
            await asyncio.wait(running, timeout=self._leases.invocation_s)
        await self._committer.commit(partitions)
        for partition in partitions:
            for task in owned.in_flight.pop(partition):
                task.cancel()
            del owned.lanes[partition]
            self._forget(partition)
            self._leases.forget(partition)

    async def assign(self, partitions: Collection[TopicPartition]) -> None:
        owned = self._owned
        assigned = set(partitions)
        kept = [p for p in owned.lanes if p in assigned]
        lost = [p for p in owned.lanes if p not in assigned]
        for partition in [p for p in owned.waiting if p not in assigned]:
            owned.waiting.pop(partition).cancel()
            self._forget(partition)
        for partition in lost:
            self._let_go(partition)
        consumer = self._consumer()
        for partition in kept:  # aiokafka would start it again at the committed offset
            at = owned.fetched_to.get(partition)
            if at is not None:
                consumer.seek(partition, at)
        for partition in owned.paused:  # a new assignment starts unpaused
            consumer.pause(partition)
        arriving = [p for p in assigned if p not in owned.lanes and p not in owned.waiting]
        await self._take_over(arriving)
        self._committer.stable.set()
        log.info(
            "partitions assigned",
            extra={
                "fields": {
                    "kept": len(kept),
                    # From this member's revoke: how long its partitions had no new lease.
                    "rebalance_s": None
                    if self._rebalance_started is None
                    else round(time.monotonic() - self._rebalance_started, 3),
                    "lost": _names(lost),
                    "arrived": _names(arriving),
                    "waiting": _names([p for p in assigned if p in owned.waiting]),
                }
            },
        )

    # -- partitions that arrive -----------------------------------------------------------

    async def _take_over(self, partitions: list[TopicPartition]) -> None:
        if not partitions:
            return
        now = self._leases.clock()
        try:
            committed = await self._read_committed(partitions)
        except KafkaError as error:
            # Unknown: a previous owner's lease may run as long as one of this member's could.
            log.warning(
                "could not read what the partitions' previous owners committed; they wait as "
                "long as a lease could run, or until released",
                extra={"fields": {"partitions": _names(partitions), "error": repr(error)}},
            )
            longest_ms = math.ceil((now + self._leases.invocation_s + LEASE_AHEAD_S) * 1000)
            for partition in partitions:
                self._wait_for_lease(partition, longest_ms)
            return
        fresh = []
        for partition in partitions:
            at = committed.get(partition)
            if at is None:
                fresh.append(partition)
            notes = handover.decode(None if at is None else at.metadata, _offset(at))
            lease_ms = notes.lease_until_ms
            if lease_ms is not None and lease_ms / 1000 + self._clock_margin_s > now:
                self._wait_for_lease(partition, lease_ms)
            else:
                self._open(partition, at, notes.done_above)
        if fresh and self._settings.starting_timestamp_ms is not None:
            await self._seek_to_start_time(fresh, self._settings.starting_timestamp_ms)

    def _wait_for_lease(self, partition: TopicPartition, lease_until_ms: int) -> None:
        self._consumer().pause(partition)
        self._owned.paused.add(partition)
        self._counters.lease_waits += 1
        self._owned.waiting[partition] = asyncio.create_task(
            self._await_lease(partition, lease_until_ms), name=f"lease {_name(partition)}"
        )

    async def _await_lease(self, partition: TopicPartition, lease_until_ms: int) -> None:
        """Until the lease (plus the clock margin) has passed, or the previous owner
        released the partition; then delivers it from what is committed now."""
        started = time.monotonic()
        released = False
        while (left_s := lease_until_ms / 1000 + self._clock_margin_s - self._leases.clock()) > 0:
            await asyncio.sleep(min(RELEASE_POLL_S, left_s))
            try:
                at = (await self._read_committed([partition])).get(partition)
            except KafkaError:
                continue  # the lease still holds; read again next time
            lease = handover.decode(None if at is None else at.metadata, _offset(at))
            if lease.lease_until_ms is None:
                released = True
                break
            lease_until_ms = min(lease_until_ms, lease.lease_until_ms)  # shrunk at release
        at = await self._read_until_answered(partition)
        notes = handover.decode(None if at is None else at.metadata, _offset(at))
        self._owned.waiting.pop(partition, None)
        log.info(
            "partition taken over",
            extra={
                "fields": {
                    "partition": _name(partition),
                    "waited_s": round(time.monotonic() - started, 3),
                    "released": released,
                }
            },
        )
        consumer = self._consumer()
        if at is not None:
            consumer.seek(partition, at.offset)
        elif self._settings.starting_timestamp_ms is not None:
            await self._seek_to_start_time([partition], self._settings.starting_timestamp_ms)
        self._open(partition, at, notes.done_above)
        self._owned.paused.discard(partition)
        consumer.resume(partition)

    def _open(
        self, partition: TopicPartition, at: OffsetAndMetadata | None, done: frozenset[int]
    ) -> None:
        settings = self._settings
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
            claim_checks=settings.large_records is not None,
        )
        self._owned.in_flight[partition] = set()
        if at is not None:
            self._owned.committed[partition] = at.offset
        if done:
            self._owned.done_before[partition] = done

    async def _read_until_answered(self, partition: TopicPartition) -> OffsetAndMetadata | None:
        """The partition's committed offset and metadata, asked until the broker answers."""
        while True:
            try:
                return (await self._read_committed([partition])).get(partition)
            except KafkaError:
                await asyncio.sleep(RELEASE_POLL_S)

    async def _read_committed(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, OffsetAndMetadata]:
        return await read_committed(self._consumer(), partitions)

    async def _seek_to_start_time(
        self, partitions: Collection[TopicPartition], timestamp_ms: int
    ) -> None:
        consumer = self._consumer()
        found = await consumer.offsets_for_times({p: timestamp_ms for p in partitions})
        for partition in partitions:
            at = found.get(partition)
            if at is None:
                await consumer.seek_to_end(partition)  # nothing that recent yet
            else:
                consumer.seek(partition, at.offset)

    # -- partitions that leave -------------------------------------------------------------

    def _let_go(self, partition: TopicPartition) -> None:
        """No more invocations of it; released once those in flight are over."""
        owned = self._owned
        lane = owned.lanes.pop(partition)
        tasks = owned.in_flight.pop(partition)
        self._delivery.let_go(partition.topic, partition.partition)  # a backoff gives up now
        self._forget(partition)
        self._releasing[partition] = asyncio.create_task(
            self._release(partition, lane, tasks), name=f"release {_name(partition)}"
        )

    async def _release(
        self, partition: TopicPartition, lane: Lane, tasks: set[asyncio.Task[None]]
    ) -> None:
        """Waits for the partition's invocations here to end, then releases it — only while
        the lease its next owner waits for still has the clock margin to run: after that, the
        next owner may be delivering, and a commit from here would overwrite its own."""
        try:
            deadline = self._leases.granted_until(partition)
            if deadline is None:
                return  # no lease was held: its next owner did not wait
            deadline -= self._clock_margin_s
            if tasks:
                await asyncio.wait(set(tasks), timeout=max(0.0, deadline - self._leases.clock()))
            await self._committer.stable.wait()
            left_s = deadline - self._leases.clock()
            if any(not task.done() for task in tasks) or left_s <= 0:
                return
            async with asyncio.timeout(left_s):
                if await self._committer.release(partition, lane):
                    log.info(
                        "partition released",
                        extra={"fields": {"partition": _name(partition)}},
                    )
        except TimeoutError:
            log.info(
                "a partition that moved was not released in time; its next owner waits for "
                "the lease",
                extra={"fields": {"partition": _name(partition)}},
            )
        finally:
            for task in tasks:
                task.cancel()
            self._leases.forget(partition)
            self._releasing.pop(partition, None)

    def _forget(self, partition: TopicPartition) -> None:
        owned = self._owned
        self._holds.forget(partition)  # never in a lane: their next owner fetches them
        self._windows.forget(partition)
        self._committer.forget(partition)
        owned.paused.discard(partition)
        owned.fetched_to.pop(partition, None)
        owned.done_before.pop(partition, None)

    async def cancel(self, partitions: Collection[TopicPartition]) -> None:
        """Cancels the partitions' batches in flight (none of their records is marked done),
        the waits for leases and the releases."""
        running: list[asyncio.Task[Any]] = [
            task for p in partitions for task in self._owned.in_flight.get(p, ())
        ]
        running.extend(self._owned.waiting.values())
        running.extend(self._releasing.values())
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


def _offset(at: OffsetAndMetadata | None) -> int:
    return -1 if at is None else at.offset


def _name(partition: TopicPartition) -> str:
    return f"{partition.topic}-{partition.partition}"


def _names(partitions: Collection[TopicPartition]) -> list[str]:
    return sorted(_name(p) for p in partitions)
