"""KAFKA_TOPIC_PATTERN: every topic whose whole name matches is delivered, including one
created while the bridge runs; nothing is lost and order per key holds in each topic."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from consumer.local import FunctionSpec, LocalLambda
from tests.support.bridge_harness import (
    FUNCTION,
    Delivered,
    RecordingSink,
    bridge_environment,
    running_bridge,
    until,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import Produced, TestRecord


def records(topic: str, count: int) -> list[TestRecord]:
    return [
        TestRecord(key=f"k{i % 5}".encode(), value=json.dumps(f"{topic}/{i}").encode())
        for i in range(count)
    ]


def _where(produced: dict[str, list[Produced]]) -> set[tuple[str, int, int]]:
    return {(topic, p.partition, p.offset) for topic, ps in produced.items() for p in ps}


def _owned_and_lag(heartbeat: Path) -> tuple[int, int] | None:
    try:
        state = json.loads(heartbeat.read_text())
    except (FileNotFoundError, ValueError):  # not written yet, or being rewritten
        return None
    return state["partitions"], state["lag"]


def _assert_order_per_key(delivered: list[Delivered]) -> None:
    """First deliveries per topic, partition and key come in offset order (a redelivery after
    the rebalance a new topic causes may repeat records, never reorder them)."""
    highest: dict[tuple[str, int, bytes | None], int] = {}
    seen: set[tuple[str, int, int]] = set()
    for d in delivered:
        if (d.topic, d.partition, d.offset) in seen:
            continue
        seen.add((d.topic, d.partition, d.offset))
        stream = (d.topic, d.partition, d.key)
        assert d.offset > highest.get(stream, -1), f"{stream}: {d.offset} came late"
        highest[stream] = d.offset


async def test_matching_topics_and_one_created_later_are_all_delivered(
    kafka: KafkaUnderTest, local_lambda: LocalLambda
) -> None:
    prefix = f"pattern-{uuid.uuid4().hex[:8]}"
    first, second, later = f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"
    bystander = f"{prefix}x-a"  # starts the same way, yet its whole name does not match
    for topic in (first, second, bystander):
        await kafka.create_topic(topic, partitions=2)
    produced = {topic: await kafka.produce(topic, records(topic, 60)) for topic in (first, second)}
    await kafka.produce(bystander, records(bystander, 10))
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    env = bridge_environment(kafka, local_lambda.url, "", f"pattern-group-{prefix}")
    del env["KAFKA_TOPIC"]
    env["KAFKA_TOPIC_PATTERN"] = rf"{prefix}-[a-z]"
    # New topics are found when the client refreshes its metadata: every second here.
    env["KAFKA_PROPERTIES"] = (
        '{"session_timeout_ms": 6000, "heartbeat_interval_ms": 500, "metadata_max_age_ms": 1000}'
    )
    env["HEALTH_INTERVAL_SECONDS"] = "0.1"
    heartbeat = Path(env["HEALTH_FILE"])
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, 120)
        await kafka.create_topic(later, partitions=2)
        produced[later] = await kafka.produce(later, records(later, 60))
        await wait_for_deliveries(local_lambda, sink, 180)
        # The lag the bridge reports (heartbeat and metrics) covers every matched partition,
        # and falls to zero once all is committed.
        await until(lambda: _owned_and_lag(heartbeat) == (6, 0), timeout_s=30)
        await running.stopped()
    got = {(d.topic, d.partition, d.offset) for d in sink.delivered}
    assert got == _where(produced)
    assert all(d.topic != bystander for d in sink.delivered)
    _assert_order_per_key(sink.delivered)
