"""FILTER_PATTERNS end to end, through the real broker and the local Lambda: the function gets
exactly the matching records, in key order; the others are committed, never invoked."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from consumer.local import FunctionSpec, LocalLambda
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    assert_key_order,
    bridge_environment,
    duplicates,
    running_bridge,
    until,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import Produced, TestRecord

PARTITIONS = 4
ONLY_FILTERED = 3  # a partition whose every record is filtered out
ALLELES = '[{"value": {"type": ["allele"]}}]'


def curation_records(count: int) -> list[TestRecord]:
    """JSON records of two types, a few plain-text ones and tombstones, over the partitions
    but for ONLY_FILTERED, which gets only records the pattern refuses."""
    records = []
    for i in range(count):
        partition = i % PARTITIONS
        key = f"variant-{i % 29}".encode()
        if partition == ONLY_FILTERED:
            value: bytes | None = json.dumps({"type": "gene", "n": i}).encode()
        elif i % 50 == 1:
            value = None  # a tombstone: no value, so a pattern on its fields cannot match
        elif i % 50 == 2:
            value = f"plain text {i}".encode()  # not JSON: Lambda judges it on metadata only
        else:
            value = json.dumps({"type": "allele" if i % 3 == 0 else "gene", "n": i}).encode()
        records.append(TestRecord(key=key, value=value, partition=partition))
    return records


def passes(record: TestRecord) -> bool:
    """The pattern ALLELES, as docs/payloads-and-filtering.md states it for these kinds of value."""
    if record.value is None:
        return False
    if not record.value.startswith(b"{"):
        return True
    return bool(json.loads(record.value)["type"] == "allele")


def filtering_bridge(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic: str, **settings: object
) -> tuple[str, dict[str, str]]:
    """A new group, and the environment of a bridge filtering by ALLELES into it."""
    group = f"g-{uuid.uuid4().hex[:8]}"
    return group, bridge_environment(
        kafka, local_lambda.url, topic, group, filter_patterns=ALLELES, **settings
    )


def ends(produced: list[Produced]) -> dict[int, int]:
    found: dict[int, int] = {}
    for p in produced:
        found[p.partition] = max(found.get(p.partition, 0), p.offset + 1)
    return found


async def test_only_matching_records_reach_the_function_and_the_rest_are_committed(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=PARTITIONS)
    produced = await kafka.produce(topic_name, curation_records(1200))
    matching = {(p.partition, p.offset) for p in produced if passes(p.record)}
    filtered = len(produced) - len(matching)
    assert 0 < len(matching) < len(produced)
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=(0.001, 0.01)))
    group, env = filtering_bridge(kafka, local_lambda, topic_name, batch_size=20)

    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, len(matching))
        await until(lambda: running.bridge.counters.records_filtered == filtered)
        await running.stopped()
        counters = running.bridge.counters

    assert {(d.partition, d.offset) for d in sink.delivered} == matching
    assert not duplicates(sink.delivered)
    assert_key_order(sink.delivered)
    assert counters.records_filtered == filtered
    assert counters.records_delivered == len(matching)
    assert counters.records_fetched == len(produced)
    assert await kafka.committed_offsets(group, topic_name) == ends(produced), (
        "every partition is committed to its end, the one with only filtered records too"
    )

    # Restarted, the group delivers nothing again: only records produced after it.
    sentinels = await kafka.produce(
        topic_name,
        [
            TestRecord(key=b"sentinel", value=b'{"type": "allele"}', partition=p)
            for p in range(PARTITIONS)
        ],
    )
    again = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, again))
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, again, len(sentinels))
        await running.stopped()
    assert sorted((d.partition, d.offset) for d in again.delivered) == sorted(
        (s.partition, s.offset) for s in sentinels
    )


async def test_a_stream_filtered_out_entirely_invokes_nothing_commits_its_end_and_says_so(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=2)
    produced = await kafka.produce(
        topic_name,
        [TestRecord(key=b"k%d" % i, value=b'{"type": "gene"}', partition=i % 2) for i in range(40)],
    )
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    group, env = filtering_bridge(kafka, local_lambda, topic_name, health_interval_seconds=0.2)
    heartbeat = Path(env["HEALTH_FILE"])

    def heartbeat_counts_them() -> bool:
        try:
            return bool(json.loads(heartbeat.read_text())["records_filtered"] == len(produced))
        except FileNotFoundError:
            return False

    async with running_bridge(env) as running:
        await until(lambda: running.bridge.counters.records_filtered == len(produced))
        await until(heartbeat_counts_them)
        await running.stopped()

    assert local_lambda.record.events(FUNCTION) == []
    assert await kafka.committed_offsets(group, topic_name) == ends(produced)


async def test_the_value_format_sends_each_matching_value_itself(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name)
    kinds = ["allele", "gene"]
    values = [json.dumps({"type": kinds[i % 2], "n": i}).encode() for i in range(30)]
    await kafka.produce(topic_name, [TestRecord(key=b"k", value=v) for v in values])
    received: list[object] = []

    def handler(event: object, context: object) -> None:
        received.append(event)

    local_lambda.add_function(FunctionSpec(FUNCTION, handler))
    group, env = filtering_bridge(kafka, local_lambda, topic_name, payload_format="value")

    async with running_bridge(env) as running:
        await until(lambda: running.bridge.counters.records_filtered == 15)
        await until(lambda: running.bridge.counters.records_delivered == 15)
        await running.stopped()

    assert received == [json.loads(v) for v in values if b'"allele"' in v]
    assert await kafka.committed_offsets(group, topic_name) == {0: len(values)}
