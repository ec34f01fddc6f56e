"""Committed offsets with their metadata, read and written where aiokafka's consumer API
stops short.

`AIOKafkaConsumer.committed()` returns the offset without its metadata, and `commit()`
refuses a partition the member no longer owns. A partition's next owner needs the metadata
(its previous owner's lease and done offsets), and an owner that lost a partition releases it
by committing once more, at the group's current generation, which the broker accepts from any
member (the classic group protocol checks the member and generation, not who owns the
partition). Both go through the consumer's group coordinator, as its own methods do; the
aiokafka version is pinned, and tests/consumer/kafka/test_group_offsets.py runs both on the
real broker.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import OffsetAndMetadata, TopicPartition


async def read_committed(
    consumer: AIOKafkaConsumer, partitions: Collection[TopicPartition]
) -> dict[TopicPartition, OffsetAndMetadata]:
    """The committed offset and metadata of each partition that has one."""
    if not partitions:
        return {}
    found = await consumer._coordinator.fetch_committed_offsets(list(partitions))
    return {
        partition: committed
        for partition, committed in found.items()
        if committed is not None and committed.offset >= 0
    }


async def commit_released(
    consumer: AIOKafkaConsumer, offsets: Mapping[TopicPartition, OffsetAndMetadata]
) -> None:
    """Commits for partitions this member owned until the last rebalance (raises
    CommitFailedError when the group is rebalancing again, KafkaError otherwise)."""
    if offsets:
        assignment = consumer._subscription.subscription.assignment
        await consumer._coordinator.commit_offsets(assignment, dict(offsets))
