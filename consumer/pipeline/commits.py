"""Committing: each owned partition's offset, with its handover (lease, done offsets).

Invariants:
- one commit at a time (`_lock`): the lease computed for a commit is the next one the broker
  sees for the partition, so `Leases` can lower and raise what starts count on;
- a partition's commit never passes a record that is not done (its lane's committable
  offset) and never moves back;
- no commit is sent while the group rebalances (from the revoke to the next assignment):
  in its CompletingRebalance step the broker answers REBALANCE_IN_PROGRESS, on which aiokafka
  asks for yet another rebalance. Leases wait for the assignment; they were granted ahead;
- after the stop's last commit (`final`) no other is sent: the leases it shrank stay so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    OffsetMetadataTooLargeError,
)
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from consumer.kafka.group_offsets import commit_released, read_committed
from consumer.operations.counters import Counters
from consumer.ownership.handover import BROKER_METADATA_LIMIT, Handover
from consumer.ownership.leases import Leases
from consumer.pipeline.lanes import Lane

log = logging.getLogger("consumer.bridge")
# Said once per run; the local mode leaves it out on its embedded broker, which it knows.
METADATA_NOT_KEPT = (
    "the brokers do not keep a commit's metadata: without leases and done offsets a "
    "rebalance waits for the invocations in flight and a stop delivers what is buffered, as "
    "before leases; a member killed with invocations in flight can overlap with its "
    "partitions' next owner"
)


class Committer:
    def __init__(
        self,
        lanes: dict[TopicPartition, Lane],
        committed: dict[TopicPartition, int],
        leases: Leases,
        counters: Counters,
        consumer: Callable[[], AIOKafkaConsumer],
        metadata_limit: int = BROKER_METADATA_LIMIT,  # the brokers' offset.metadata.max.bytes
    ) -> None:
        self._lanes = lanes
        self._committed = committed  # shared with the bridge's status: offsets only
        self._leases = leases
        self._counters = counters
        self._consumer = consumer
        self._lock = asyncio.Lock()
        self._sent: dict[TopicPartition, tuple[int, str]] = {}  # what the broker holds
        self.stable = asyncio.Event()  # the group is not rebalancing: commits may go
        # Lowered to the lease alone when the broker refuses metadata this large.
        self._metadata_limit = metadata_limit
        self._failing = False
        # After the stop's last commit no other may extend a lease: what it shrank stays.
        self._closed = False
        # Whether the brokers keep a commit's metadata (Tansu drops it): read back after the
        # first commit; None until then. Without it there are no leases and no done offsets,
        # so rebalances and stops wait for what is in flight, as before leases.
        self.keeps_metadata: bool | None = None

    async def commit(self, partitions: Collection[TopicPartition], *, final: bool = False) -> bool:
        """Commits what is done of `partitions`; `final`: the stop's last commit, after which
        no lease is extended (invocations wanting one wait until cancelled), so each shrinks to
        what may still be running. False when it could not."""
        async with self._lock:  # checked under the lock: a commit waiting on it may be late
            if not self.stable.is_set() or (self._closed and not final):
                return False
            self._closed = self._closed or final
            try:
                offsets, leases = self._what_to_commit(partitions, final=final)
                if not offsets:
                    return True
                return await self._send(offsets, leases)
            finally:
                self._leases.attempted()

    async def release(self, partition: TopicPartition, lane: Lane) -> bool:
        """Once a lost partition's invocations are over here: commits what was done of it
        since the revoke, and a lease of only what may still be running (none, most often),
        so its next owner starts now instead of at the lease committed at the revoke."""
        async with self._lock:
            offset = lane.committable_offset
            if offset is None:
                return True
            if not self.stable.is_set():
                return False
            lease = self._leases.to_commit(partition, holding=False)
            metadata = Handover(lease, frozenset(lane.done_above())).encode(
                offset, self._metadata_limit
            )
            try:
                await commit_released(
                    self._consumer(), {partition: OffsetAndMetadata(offset, metadata)}
                )
            except (CommitFailedError, IllegalStateError, KafkaError) as error:
                log.info(
                    "could not release a partition that moved; its next owner waits for the lease",
                    extra={"fields": {"partition": _name(partition), "error": repr(error)}},
                )
                return False
            finally:
                self._leases.attempted()
            return True

    def forget(self, partition: TopicPartition) -> None:
        self._sent.pop(partition, None)
        self._committed.pop(partition, None)

    def _what_to_commit(
        self, partitions: Collection[TopicPartition], *, final: bool
    ) -> tuple[dict[TopicPartition, OffsetAndMetadata], dict[TopicPartition, int | None]]:
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        leases: dict[TopicPartition, int | None] = {}
        for partition in partitions:
            lane = self._lanes.get(partition)
            offset = None if lane is None else lane.committable_offset
            if lane is None or offset is None:
                continue  # nothing fetched: nothing done, nothing invoked
            lease = self._leases.to_commit(partition, holding=not final and not lane.is_idle)
            metadata = Handover(lease, frozenset(lane.done_above())).encode(
                offset, self._metadata_limit
            )
            if self._sent.get(partition) == (offset, metadata):
                continue
            offsets[partition] = OffsetAndMetadata(offset, metadata)
            leases[partition] = lease
        return offsets, leases

    async def _send(
        self,
        offsets: dict[TopicPartition, OffsetAndMetadata],
        leases: dict[TopicPartition, int | None],
    ) -> bool:
        consumer = self._consumer()
        try:
            try:
                await consumer.commit(offsets)
            except OffsetMetadataTooLargeError:
                self._lower_metadata_limit()
                offsets = {
                    partition: OffsetAndMetadata(
                        at.offset, Handover(leases[partition]).encode(at.offset)
                    )
                    for partition, at in offsets.items()
                }
                await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, KafkaError) as error:
            if not self._failing:  # once per run of failures: a rebalance can cause several
                log.warning(
                    "commit failed; records after it will be redelivered unless a later "
                    "commit succeeds",
                    extra={"fields": {"error": repr(error)}},
                )
            self._failing = True
            return False
        self._failing = False
        self._leases.acknowledged(leases)
        if self.keeps_metadata is None:
            await self._check_metadata_kept(consumer, offsets)
        self._counters.commits += 1
        for partition, at in offsets.items():
            self._sent[partition] = (at.offset, at.metadata)
            self._committed[partition] = at.offset
        return True

    async def _check_metadata_kept(
        self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, OffsetAndMetadata]
    ) -> None:
        partition, sent = next(iter(offsets.items()))
        try:
            read = (await read_committed(consumer, [partition])).get(partition)
        except KafkaError:
            return  # asked again after the next commit
        self.keeps_metadata = read is not None and read.metadata == sent.metadata
        if not self.keeps_metadata:
            log.warning(METADATA_NOT_KEPT)

    def _lower_metadata_limit(self) -> None:
        if self._metadata_limit:
            log.warning(
                "the brokers refuse offset metadata this large (offset.metadata.max.bytes is "
                "below Kafka's default 4096): commits carry leases only, and a partition's "
                "next owner delivers again what was done above its committed offset"
            )
        self._metadata_limit = 0


def _name(partition: TopicPartition) -> str:
    return f"{partition.topic}-{partition.partition}"
