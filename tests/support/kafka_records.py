"""Test-side Kafka helpers: create topics, produce records, read committed offsets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from consumer.kafka.group_offsets import read_committed

_TOPIC_ALREADY_EXISTS = 36  # Kafka's error code


@dataclass(frozen=True)
class TestRecord:
    """A record to produce; `partition` None lets the producer choose by key."""

    __test__ = False  # not a pytest test class, whatever its name says

    value: bytes | None
    key: bytes | None = None
    partition: int | None = None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=tuple)
    timestamp_ms: int | None = None  # None: the producer's clock


@dataclass(frozen=True)
class Produced:
    record: TestRecord
    partition: int
    offset: int
    timestamp_ms: int


@dataclass
class KafkaTestClient:
    bootstrap: str

    async def create_topic(
        self, name: str, partitions: int = 1, configs: dict[str, str] | None = None
    ) -> str:
        """Creates the topic (`configs`: its topic-level configs, e.g. max.message.bytes)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            answer = await admin.create_topics(
                [
                    NewTopic(
                        name,
                        num_partitions=partitions,
                        replication_factor=1,
                        topic_configs=configs or {},
                    )
                ]
            )
            # The broker answers per topic rather than failing the request: a name it refuses
            # (say, one with '@') would otherwise end as a wait for leaders that never come.
            for _topic, code, *message in answer.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise ValueError(f"the broker refused topic {name!r}: {code} {message}")
            await self._wait_for_leaders(admin, name, partitions)
        finally:
            await admin.close()
        return name

    async def _wait_for_leaders(
        self, admin: AIOKafkaAdminClient, name: str, partitions: int
    ) -> None:
        # CreateTopics returns before every partition has a leader; producing at once
        # would fail with NotLeaderForPartition, so ask until all have one.
        for _ in range(300):
            (described,) = await admin.describe_topics([name])
            leaders = [p["leader"] for p in described["partitions"]]
            if described["error_code"] == 0 and len(leaders) == partitions and min(leaders) >= 0:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"topic {name} has partitions without a leader after 15 s")

    async def partition_count(self, topic: str) -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            (described,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
        return len(described["partitions"])

    async def produce(
        self,
        topic: str,
        records: Iterable[TestRecord],
        max_request_size: int = 1024 * 1024,  # aiokafka's default; raise it for large records
    ) -> list[Produced]:
        """Produces all records (acks=all) and returns where each landed, in input order."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            linger_ms=5,
            max_request_size=max_request_size,
        )
        await producer.start()
        try:
            pending = []
            for record in records:
                sent = await producer.send(
                    topic,
                    value=record.value,
                    key=record.key,
                    partition=record.partition,
                    headers=list(record.headers),
                    timestamp_ms=record.timestamp_ms,
                )
                pending.append((record, sent))
            produced = []
            for record, sent in pending:
                meta = await sent
                produced.append(Produced(record, meta.partition, meta.offset, meta.timestamp))
            return produced
        finally:
            await producer.stop()

    async def committed_offsets(self, group_id: str, topic: str) -> dict[int, int]:
        """The group's committed offset per partition of `topic` (partitions with none left out).

        Asked through a consumer that never joins the group, which works on every broker
        here (aiokafka's admin OffsetFetch does not work against Tansu).
        """
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=group_id, enable_auto_commit=False
        )
        await reader.start()
        try:
            partitions = range(await self.partition_count(topic))
            committed = {p: await reader.committed(TopicPartition(topic, p)) for p in partitions}
        finally:
            await reader.stop()
        return {p: offset for p, offset in committed.items() if offset is not None}

    async def committed_metadata(self, group_id: str, topic: str) -> dict[int, str]:
        """The metadata of the group's committed offsets of `topic` (leases, done offsets)."""
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=group_id, enable_auto_commit=False
        )
        await reader.start()
        try:
            partitions = [
                TopicPartition(topic, p) for p in range(await self.partition_count(topic))
            ]
            committed = await read_committed(reader, partitions)
        finally:
            await reader.stop()
        return {tp.partition: at.metadata for tp, at in committed.items()}
