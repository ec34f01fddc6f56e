"""End to end through the real broker and the local Lambda: every record, in key order."""

from __future__ import annotations

import uuid

from consumer.local import FunctionSpec, LocalLambda
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    assert_all_delivered,
    assert_key_order,
    bridge_environment,
    duplicates,
    running_bridge,
    until,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord


def keyed_records(count: int, keys: int) -> list[TestRecord]:
    return [
        TestRecord(key=f"variant-{i % keys}".encode(), value=f'{{"n": {i}}}'.encode())
        for i in range(count)
    ]


async def test_every_record_of_twenty_partitions_reaches_the_function_in_key_order(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=20)
    produced = await kafka.produce(topic_name, keyed_records(3000, keys=97))
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=(0.001, 0.02)))
    group = f"g-{uuid.uuid4().hex[:8]}"
    env = bridge_environment(kafka, local_lambda.url, topic_name, group, batch_size=50)

    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, len(produced))
        await running.stopped()

    assert_all_delivered(produced, sink.delivered)
    assert_key_order(sink.delivered)
    assert not duplicates(sink.delivered), "a clean run delivers each record once"
    ends = {}
    for p in produced:
        ends[p.partition] = max(ends.get(p.partition, 0), p.offset + 1)
    assert await kafka.committed_offsets(group, topic_name) == ends
    assert local_lambda.record.peak_in_flight(FUNCTION) <= 20 * 2


async def test_a_batch_window_holds_a_partial_batch_until_it_fills(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name)
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    group = f"g-{uuid.uuid4().hex[:8]}"
    env = bridge_environment(
        kafka, local_lambda.url, topic_name, group, batch_size=5, batch_window_ms=120_000
    )
    async with running_bridge(env) as running:
        await running.bridge.ready.wait()
        await kafka.produce(topic_name, keyed_records(3, keys=3))
        await until(lambda: running.bridge.counters.records_fetched == 3)
        await kafka.produce(topic_name, keyed_records(4, keys=3))
        await wait_for_deliveries(local_lambda, sink, 5)
        # The last 2 wait for the window; a stop starts nothing, leaving them to the
        # partition's next owner.
        await running.stopped()

    sizes = [
        len(event["records"][f"{topic_name}-0"]) for event in local_lambda.record.events(FUNCTION)
    ]
    assert sizes == [5]
    assert [d.offset for d in sink.delivered] == list(range(5))
    assert await kafka.committed_offsets(group, topic_name) == {0: 5}
