"""The function throttles, fails, half-fails, or fails one record for good: nothing is lost,
nothing is skipped, and the bridge backs off instead of hammering."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from consumer.local import FunctionSpec, LocalLambda, Outcome
from tests.support.bridge_harness import (
    FUNCTION,
    Delivered,
    RecordingSink,
    assert_all_delivered,
    assert_key_order,
    bridge_environment,
    running_bridge,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord


def records(count: int) -> list[TestRecord]:
    return [TestRecord(key=f"k{i % 13}".encode(), value=f'"r{i}"'.encode()) for i in range(count)]


async def test_a_throttling_storm_is_ridden_out_with_less_concurrency_and_no_loss(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=20)
    produced = await kafka.produce(topic_name, records(2000))
    sink = RecordingSink()
    # Reserved concurrency 3 against a bridge allowed 40 at once.
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=0.02, concurrency_limit=3))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        batch_size=20,
        max_in_flight_total=40,
        retry_backoff_base_ms=20,
        retry_backoff_max_ms=500,
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, len(produced))
        await running.stopped()
        counters = running.bridge.counters

    assert_all_delivered(produced, sink.delivered)
    assert_key_order(sink.delivered)
    outcomes = local_lambda.record.outcomes(FUNCTION)
    throttled = outcomes.count(Outcome.THROTTLED)
    assert throttled > 0, "the limit never bit: the test did not throttle"
    assert counters.throttles == throttled
    assert local_lambda.record.peak_in_flight(FUNCTION) <= 3
    # Adaptive concurrency: far fewer throttles than invocations that got through.
    assert throttled < outcomes.count(Outcome.OK), (throttled, outcomes.count(Outcome.OK))


async def test_transient_service_errors_are_retried_until_delivered(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=4)
    produced = await kafka.produce(topic_name, records(500))
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, service_error_rate=0.3, seed=7))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        batch_size=10,
        retry_backoff_base_ms=5,
        retry_backoff_max_ms=50,
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, len(produced))
        await running.stopped()

    assert local_lambda.record.outcomes(FUNCTION).count(Outcome.SERVICE_ERROR) > 0
    assert_all_delivered(produced, sink.delivered)
    assert_key_order(sink.delivered)


async def test_a_partial_batch_response_retries_only_the_failed_records_and_their_key(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=1)
    produced = await kafka.produce(topic_name, records(200))
    failed_once: set[int] = set()

    def fail_first_time_every_tenth(record: Delivered) -> bool:
        if record.offset % 10 == 3 and record.offset not in failed_once:
            failed_once.add(record.offset)
            return True
        return False

    sink = RecordingSink(fail_offsets=fail_first_time_every_tenth)
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        batch_size=50,
        retry_backoff_base_ms=1,
        retry_backoff_max_ms=10,
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, len(produced))
        await running.stopped()

    assert failed_once == {o for o in range(200) if o % 10 == 3}
    assert_all_delivered(produced, sink.delivered)
    assert_key_order(sink.delivered)
    payload_sizes = [
        len(event["records"][f"{topic_name}-0"]) for event in local_lambda.record.events(FUNCTION)
    ]
    # Retries carry the failed record and the later ones of its key, not the whole batch.
    assert min(payload_sizes) < 50
    assert sum(payload_sizes) < 2 * 200


async def test_a_record_the_function_always_rejects_stalls_its_partition_and_nothing_passes_it(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=2)
    poison = TestRecord(key=b"poison", value=b'"poison"', partition=0)
    before = [TestRecord(key=b"a", value=b'"a"', partition=p) for p in (0, 1) for _ in range(5)]
    after = [TestRecord(key=b"b", value=b'"b"', partition=p) for p in (0, 1) for _ in range(5)]
    produced = await kafka.produce(topic_name, [*before, poison, *after])
    poison_offset = next(p.offset for p in produced if p.record is poison)

    def rejects_poison(event: Any) -> bool:
        return any(
            r["value"] == "InBvaXNvbiI="  # base64 of "poison" in quotes
            for rs in event["records"].values()
            for r in rs
        )

    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=rejects_poison))
    group = f"g-{uuid.uuid4().hex}"
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        group,
        ordering="partition",
        batch_size=1,
        max_retries=1,
        retry_backoff_base_ms=1,
        retry_backoff_max_ms=20,
        shutdown_timeout_seconds=1,
    )
    partition_1 = [p for p in produced if p.partition == 1]
    async with running_bridge(env) as running:
        await local_lambda.record.wait_until_async(
            lambda record: record.outcomes(FUNCTION).count(Outcome.FUNCTION_ERROR) >= 5,
            timeout_s=60,
        )
        await wait_for_deliveries(local_lambda, sink, 5 + len(partition_1))
        await running.stopped()

    delivered = {(d.partition, d.offset) for d in sink.delivered}
    assert {(1, p.offset) for p in partition_1} <= delivered, "partition 1 must not wait"
    assert {(0, o) for o in range(poison_offset)} <= delivered, "records before it go through"
    assert not any(p == 0 and o >= poison_offset for p, o in delivered), "nothing passes it"
    committed = await kafka.committed_offsets(group, topic_name)
    assert committed[0] == poison_offset
    assert committed[1] == partition_1[-1].offset + 1


@pytest.mark.apache_kafka
async def test_delivery_over_sasl_ssl_plain_with_the_allowed_group(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    assert kafka.sasl is not None
    await kafka.create_topic(topic_name, partitions=3)
    produced = await kafka.produce(topic_name, records(300))
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"{kafka.sasl.allowed_group_prefix}{topic_name}",
        kafka_bootstrap_servers=kafka.sasl.bootstrap,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="PLAIN",
        kafka_username=kafka.sasl.username,
        kafka_password=kafka.sasl.password,
        kafka_ssl_ca_file=kafka.sasl.ca_file,
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, len(produced))
        await running.stopped()
    assert_all_delivered(produced, sink.delivered)
