"""A backlog far larger than the buffers, and a slow function: the bridge holds no more than
its bounds, pausing fetching instead of reading the topic into memory."""

from __future__ import annotations

import uuid

from consumer.local import FunctionSpec, LocalLambda
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    bridge_environment,
    running_bridge,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord

BOUND = 100
PARTITIONS = 2


async def test_buffered_records_stay_within_the_bounds_while_the_function_is_slow(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=PARTITIONS)
    backlog = [TestRecord(key=f"k{i % 50}".encode(), value=b"x" * 100) for i in range(6000)]
    await kafka.produce(topic_name, backlog)
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=0.05))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        batch_size=10,
        max_in_flight_per_partition=1,
        max_buffered_records_per_partition=BOUND,
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, 400)
        counters = running.bridge.counters
        fetched, delivered = counters.records_fetched, sink.distinct_count()
        await running.stopped()

    assert counters.pauses > 0, "fetching never paused"
    # A lane holds at most what it had when it paused plus the one fetch that filled it.
    assert counters.peak_buffered_records <= 2 * BOUND
    assert fetched <= delivered + PARTITIONS * 2 * BOUND, (fetched, delivered)
    assert fetched < len(backlog)
