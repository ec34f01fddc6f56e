"""Commits carry each partition's handover; on the real broker, within its metadata limit."""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

from consumer.operations.counters import Counters
from consumer.ownership import handover
from consumer.ownership.leases import Leases
from consumer.payloads.encoders import encoder_for
from consumer.pipeline.commits import Committer
from consumer.pipeline.lanes import Lane
from consumer.records import KafkaRecord
from consumer.settings.ordering import Ordering
from consumer.settings.payload_format import PayloadFormat
from tests.support.kafka_fixtures import KafkaUnderTest


@pytest.fixture
async def member(kafka: KafkaUnderTest, topic_name: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer that owns the topic's one partition in a group of its own."""
    await kafka.create_topic(topic_name, partitions=1)
    consumer = AIOKafkaConsumer(
        topic_name,
        bootstrap_servers=kafka.bootstrap,
        group_id=f"g-{uuid.uuid4().hex}",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        yield consumer
    finally:
        await consumer.stop()


def lane_with_done(topic: str, count: int, done_share: float, seed: int) -> Lane:
    """A lane of `count` records, record 0 not done, a random `done_share` of the rest done."""
    lane = Lane(
        topic=topic,
        partition=0,
        ordering=Ordering.none,
        encoder=encoder_for(PayloadFormat.NATIVE, "b:9092"),
        max_in_flight=count,
        max_batch_records=1,
        max_batch_bytes=1_000_000,
        max_buffered_records=count,
        max_buffered_bytes=100 * count,
    )
    lane.add([record(topic, offset) for offset in range(count)])
    rng = random.Random(seed)
    batches = []
    while (batch := lane.next_batch()) is not None:
        batches.append(batch)
    for batch in batches[1:]:
        if rng.random() < done_share:
            lane.complete(batch)
    return lane


def record(topic: str, offset: int) -> KafkaRecord:
    built: KafkaRecord = ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=1_700_000_000_000,
        timestamp_type=0,
        key=b"k",
        value=b"v",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=1,
        headers=[],
    )
    return built


async def commit_and_read(
    kafka: KafkaUnderTest, member: AIOKafkaConsumer, lane: Lane, metadata_limit: int
) -> tuple[bool, handover.Handover]:
    partition = TopicPartition(lane.topic, 0)
    leases = Leases(20.0, 10.0)
    committer = Committer(
        {partition: lane}, {}, leases, Counters(), lambda: member, metadata_limit=metadata_limit
    )
    committer.stable.set()
    committed = await committer.commit([partition])
    group = member._group_id
    metadata = (await kafka.committed_metadata(group, lane.topic))[0]
    return committed, handover.decode(metadata, 0)


async def test_done_offsets_above_the_commit_reach_the_broker(
    kafka: KafkaUnderTest, member: AIOKafkaConsumer, topic_name: str
) -> None:
    lane = lane_with_done(topic_name, 2000, done_share=0.5, seed=1)
    committed, read = await commit_and_read(kafka, member, lane, handover.BROKER_METADATA_LIMIT)

    assert committed
    assert read.done_above == frozenset(lane.done_above())
    assert read.lease_until_ms is not None  # work is pending: a lease ahead of its starts


async def test_done_offsets_over_the_limit_are_left_out_and_the_lease_kept(
    kafka: KafkaUnderTest, member: AIOKafkaConsumer, topic_name: str
) -> None:
    lane = lane_with_done(topic_name, 60_000, done_share=0.5, seed=2)
    assert len(handover.Handover(None, frozenset(lane.done_above())).encode(0, 10**9)) > 4096
    committed, read = await commit_and_read(kafka, member, lane, handover.BROKER_METADATA_LIMIT)

    assert committed
    assert read.done_above == frozenset()  # the next owner delivers them again
    assert read.lease_until_ms is not None


async def test_a_broker_refusing_the_metadata_gets_the_lease_alone(
    kafka: KafkaUnderTest,
    member: AIOKafkaConsumer,
    topic_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bridge that believed the brokers take more than they do (offset.metadata.max.bytes
    is 4096 here): the refusal is said once, and the commit goes with the lease alone."""
    lane = lane_with_done(topic_name, 60_000, done_share=0.5, seed=3)
    caplog.set_level(logging.WARNING, logger="consumer.bridge")
    committed, read = await commit_and_read(kafka, member, lane, metadata_limit=10**6)

    assert committed
    assert read.done_above == frozenset()
    assert read.lease_until_ms is not None
    assert [
        "the brokers refuse offset metadata this large" in r.getMessage() for r in caplog.records
    ] == [True]
