"""The local mode's topic: created when missing, and how far the bridge's group is behind it.

The group's position is read as an operator would read it: the committed offset of each
partition against its end offset. A run is drained when every partition's committed
offset has reached its end: each record below it was delivered or dead-lettered.

Tansu answers ListOffsets(latest) with one past the first offset of the partition's last
batch, short of the true end (its fetch responses carry the true high-water mark). So the
reader takes the greatest of three floors: the listed end, the end the producer was told
(exact for what this run produced), and the high-water mark the bridge last fetched. A run
is therefore drained exactly: to commit past a batch's first record, the bridge has fetched
that batch. Only a partition the bridge has not fetched from yet can show a lag short by
its last batch, less one record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import for_code
from aiokafka.structs import TopicPartition

from consumer.errors import KafkaStartupError

_TOPIC_ALREADY_EXISTS = 36  # Kafka's error code: another client created it meanwhile
_LEADER_WAIT_TRIES = 300  # CreateTopics returns before each partition has a leader
_LEADER_WAIT_S = 0.05


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    created: bool  # False: it existed already, with its own number of partitions


async def ensure_topic(client_arguments: dict[str, Any], name: str, partitions: int) -> Topic:
    """Creates topic `name` with `partitions` unless it exists.

    Creating first and reading "already exists" is the one race-free way, and asking for
    the topic's metadata first could auto-create it with the broker's default partitions.
    """
    admin = AIOKafkaAdminClient(**client_arguments)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1)]
        )
        for _, code, *message in response.topic_errors:
            if code == _TOPIC_ALREADY_EXISTS:
                (described,) = await admin.describe_topics([name])
                return Topic(name, len(described["partitions"]), created=False)
            if code != 0:
                detail = "".join(str(m) for m in message if m)
                raise KafkaStartupError(
                    f"could not create topic {name}: {for_code(code).__name__} {detail}".rstrip()
                )
        for _ in range(_LEADER_WAIT_TRIES):
            if await _partitions_with_leaders(admin, name) == partitions:
                return Topic(name, partitions, created=True)
            # The broker announces no moment when leaders are elected: ask again shortly.
            await asyncio.sleep(_LEADER_WAIT_S)
        raise KafkaStartupError(f"topic {name} still has partitions without a leader")
    finally:
        await admin.close()


async def _partitions_with_leaders(admin: AIOKafkaAdminClient, topic: str) -> int:
    (described,) = await admin.describe_topics([topic])
    if described["error_code"] != 0:
        return 0
    return sum(1 for p in described["partitions"] if p["leader"] >= 0)


@dataclass(frozen=True)
class GroupPosition:
    end: dict[int, int]  # partition → end offset (where the next record will be written)
    committed: dict[int, int]  # partition → committed offset (the start, with no commit)

    @property
    def lag(self) -> int:
        return sum(max(0, end - self.committed[p]) for p, end in self.end.items())


class GroupPositionReader:
    """Reads a group's committed offsets without joining it: a consumer that never subscribes.

    Example::

        async with GroupPositionReader(arguments, Topic("orders", 20, True), "bridge") as r:
            lag = (await r.read()).lag
    """

    def __init__(
        self,
        client_arguments: dict[str, Any],
        topic: Topic,
        group_id: str,
        known_ends: dict[int, int] | None = None,  # partition → an end offset known to exist
    ) -> None:
        self._consumer = AIOKafkaConsumer(
            **client_arguments, group_id=group_id, enable_auto_commit=False
        )
        self._partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        self._known_ends = dict(known_ends or {})

    async def __aenter__(self) -> GroupPositionReader:
        await self._consumer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._consumer.stop()

    async def read(self, fetched_ends: Mapping[int, int] | None = None) -> GroupPosition:
        """`fetched_ends`: partition → the high-water mark a fetch response gave."""
        consumer = self._consumer
        floors = dict(self._known_ends)
        for partition, end in (fetched_ends or {}).items():
            floors[partition] = max(end, floors.get(partition, 0))
        ends = await consumer.end_offsets(self._partitions)
        starts = await consumer.beginning_offsets(self._partitions)
        committed = {}
        for partition in self._partitions:
            offset = await consumer.committed(partition)
            committed[partition.partition] = starts[partition] if offset is None else offset
        return GroupPosition(
            end={
                p.partition: max(offset, floors.get(p.partition, 0)) for p, offset in ends.items()
            },
            committed=committed,
        )
