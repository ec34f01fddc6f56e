"""Records that cannot be delivered go to the dead letter, with why; everything else flows,
and the offsets move past them only once the dead letter is stored."""

from __future__ import annotations

import base64
import math
import threading
import time
import uuid
from typing import Any

import aioboto3
import pytest
from aiokafka import AIOKafkaConsumer

from consumer.local import FunctionSpec, LocalLambda, Outcome
from consumer.local.invocations import Invocation
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    assert_all_delivered,
    bridge_environment,
    running_bridge,
    until,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import Produced, TestRecord
from tests.support.moto_fixtures import MotoServer
from tests.support.poison import (
    FAST_RETRIES,
    POISON,
    carries_poison,
    dead_letters_in,
    records_with_poison,
    s3_environment,
)

pytestmark = pytest.mark.usefixtures("aws_test_credentials")


def end_offsets(produced: list[Produced]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for p in produced:
        ends[p.partition] = max(ends.get(p.partition, 0), p.offset + 1)
    return ends


async def test_a_poison_record_among_ten_thousand_goes_to_s3_and_everything_else_flows(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    await kafka.create_topic(topic_name, partitions=20)
    produced = await kafka.produce(topic_name, records_with_poison(10_000, poison_at=4321))
    poison = next(p for p in produced if p.record.value == POISON)
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    group = f"g-{uuid.uuid4().hex}"
    env = s3_environment(
        kafka, local_lambda, moto_server, s3_bucket, topic_name, group, **FAST_RETRIES
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, len(produced) - 1)
        await running.stopped()
        assert running.bridge.counters.dead_lettered == 1

    others = [p for p in produced if p is not poison]
    assert_all_delivered(others, sink.delivered)
    (letter,) = await dead_letters_in(moto_server, s3_bucket, "dead/")
    assert letter["key"].startswith(f"dead/{topic_name}/{poison.partition:05d}/")
    assert letter["record"]["offset"] == poison.offset
    assert letter["record"]["partition"] == poison.partition
    assert base64.b64decode(letter["record"]["value"]) == POISON
    assert letter["error"]["type"] == "SimulatedFunctionError"
    assert letter["functionName"] == FUNCTION
    assert letter["payloadFormat"] == "native"
    assert letter["attempts"] >= 2
    assert await kafka.committed_offsets(group, topic_name) == end_offsets(produced)


async def test_a_poison_record_goes_to_a_kafka_dead_letter_topic_as_it_was(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=4)
    dlq_topic = await kafka.create_topic(f"{topic_name}-dlq")
    poisoned = TestRecord(key=b"kp", value=POISON, headers=[("trace", b"t-1")])
    produced = await kafka.produce(topic_name, [*records_with_poison(500, poison_at=-1), poisoned])
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    group = f"g-{uuid.uuid4().hex}"
    env = bridge_environment(
        kafka, local_lambda.url, topic_name, group, dlq=f"kafka://{dlq_topic}", **FAST_RETRIES
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, 500)
        # A stop starts nothing new: the poison record's retries end once it is dead-lettered.
        await until(lambda: running.bridge.counters.dead_lettered == 1)
        await running.stopped()

    reader = AIOKafkaConsumer(
        dlq_topic, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest"
    )
    await reader.start()
    try:
        letter = await reader.getone()
        nothing_more = await reader.getmany(timeout_ms=500)
    finally:
        await reader.stop()
    headers = dict(letter.headers)
    assert (letter.key, letter.value, headers["trace"]) == (b"kp", POISON, b"t-1")
    assert headers["dlq.error.type"] == b"SimulatedFunctionError"
    assert headers["dlq.source.topic"] == topic_name.encode()
    assert int(headers["dlq.source.offset"]) == produced[-1].offset
    assert not any(nothing_more.values()), "only the poison record is a dead letter"
    assert await kafka.committed_offsets(group, topic_name) == end_offsets(produced)


async def test_bisecting_finds_the_poison_in_a_logarithmic_number_of_invocations(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    size = 256
    await kafka.create_topic(topic_name)
    await kafka.produce(topic_name, records_with_poison(size, poison_at=200))
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    env = s3_environment(
        kafka,
        local_lambda,
        moto_server,
        s3_bucket,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        batch_size=size,
        ordering="none",
        **FAST_RETRIES,
    )
    # As each invocation ends, the counts of those before it (they run one after another).
    seen: list[tuple[int, int, int]] = []  # (accepted, dead-lettered, batch-level done)
    accepted_before: list[int] = []  # records of earlier invocations that returned success
    accepted_so_far = 0
    async with running_bridge(env) as running:
        counters = running.bridge.counters

        def snapshot(invocation: Invocation) -> None:
            nonlocal accepted_so_far
            seen.append(
                (counters.records_accepted, counters.dead_lettered, counters.records_delivered)
            )
            accepted_before.append(accepted_so_far)
            if invocation.outcome is Outcome.OK:
                accepted_so_far += len(invocation.event["records"][f"{topic_name}-0"])

        local_lambda.record.listen(snapshot)
        await wait_for_deliveries(local_lambda, sink, size - 1)
        await running.stopped()

    events = local_lambda.record.events(FUNCTION)
    assert len(events[0]["records"][f"{topic_name}-0"]) == size, "one batch of all records"
    retries = FAST_RETRIES["max_retries"]
    levels = math.ceil(math.log2(size))
    # The whole batch with its retries, two halves per level, the lone record's retries.
    assert len(events) <= (retries + 1) + 2 * levels + retries
    assert len(await dead_letters_in(moto_server, s3_bucket, "dead/")) == 1
    # Records count as accepted the moment their invocation answers, not when the batch is
    # done: the local mode's "done" is never behind its "dead-lettered".
    assert [accepted for accepted, _, _ in seen] == accepted_before
    assert (200, 1, 0) in seen, "the dead letter was written while the batch was unfinished"
    assert (counters.records_accepted, counters.dead_lettered) == (size - 1, 1)


async def test_a_record_over_the_batch_byte_limit_is_dead_lettered_with_its_size(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    await kafka.create_topic(topic_name)
    produced = await kafka.produce(
        topic_name,
        [TestRecord(value=b"small-1"), TestRecord(value=b"x" * 5000), TestRecord(value=b"s2")],
    )
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    env = s3_environment(
        kafka,
        local_lambda,
        moto_server,
        s3_bucket,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        batch_max_bytes=2048,
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, 2)
        await running.stopped()

    (letter,) = await dead_letters_in(moto_server, s3_bucket, "dead/")
    assert letter["record"]["offset"] == produced[1].offset
    assert letter["error"]["type"] == "Undeliverable"
    assert "2048" in letter["error"]["message"]


class CountingHandler:
    """Counts the records it is given: a JSON array (legacy) or one value per event."""

    def __init__(self, payload_format: str) -> None:
        self._lock = threading.Lock()
        self._format = payload_format
        self.records = 0

    def __call__(self, event: Any, context: object) -> None:
        with self._lock:
            self.records += len(event) if self._format == "legacy" else 1


@pytest.mark.parametrize(
    ("payload_format", "bad_value", "reason"),
    [("legacy", b"caf\xe9", "UTF-8"), ("value", b"{not json", "not JSON")],
)
async def test_a_record_the_format_cannot_carry_is_dead_lettered_with_the_reason(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
    payload_format: str,
    bad_value: bytes,
    reason: str,
) -> None:
    await kafka.create_topic(topic_name)
    produced = await kafka.produce(
        topic_name,
        [
            TestRecord(key=b"a", value=b'"ok"'),
            TestRecord(key=b"a", value=bad_value),
            TestRecord(key=b"a", value=b'"ok too"'),
        ],
    )
    handler = CountingHandler(payload_format)
    local_lambda.add_function(FunctionSpec(FUNCTION, handler))
    group = f"g-{uuid.uuid4().hex}"
    env = s3_environment(
        kafka,
        local_lambda,
        moto_server,
        s3_bucket,
        topic_name,
        group,
        payload_format=payload_format,
    )
    async with running_bridge(env) as running:
        await local_lambda.record.wait_until_async(lambda _: handler.records >= 2, timeout_s=60)
        await until(lambda: running.bridge.counters.dead_lettered == 1)
        await running.stopped()

    assert handler.records == 2
    (letter,) = await dead_letters_in(moto_server, s3_bucket, "dead/")
    assert letter["record"]["offset"] == produced[1].offset
    assert reason in letter["error"]["message"]
    assert base64.b64decode(letter["record"]["value"]) == bad_value
    assert await kafka.committed_offsets(group, topic_name) == {0: 3}


async def test_while_the_dead_letter_store_is_down_nothing_is_committed_past_the_record(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    own_moto_server: MotoServer,
    topic_name: str,
) -> None:
    bucket = f"dlq-{uuid.uuid4().hex[:12]}"
    async with aioboto3.Session().client("s3", **own_moto_server.client_kwargs()) as s3:
        await s3.create_bucket(Bucket=bucket)
    own_moto_server.stop()
    await kafka.create_topic(topic_name)
    produced = await kafka.produce(topic_name, records_with_poison(20, poison_at=5))
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    group = f"g-{uuid.uuid4().hex}"
    env = s3_environment(
        kafka,
        local_lambda,
        own_moto_server,
        bucket,
        topic_name,
        group,
        commit_interval_ms=50,
        **FAST_RETRIES,
    )
    async with running_bridge(env) as running:
        counters = running.bridge.counters
        await until(lambda: counters.dead_letter_write_failures >= 3)
        committed_during_outage = await kafka.committed_offsets(group, topic_name)
        assert committed_during_outage.get(0, 0) <= produced[5].offset
        own_moto_server.start()
        await until(lambda: counters.dead_lettered == 1)
        await wait_for_deliveries(local_lambda, sink, 19)
        await running.stopped()

    assert_all_delivered([p for p in produced if p.record.value != POISON], sink.delivered)
    assert len(await dead_letters_in(own_moto_server, bucket, "dead/")) == 1
    assert await kafka.committed_offsets(group, topic_name) == {0: 20}


async def test_stall_mode_keeps_the_record_even_with_a_dead_letter_store(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    await kafka.create_topic(topic_name)
    produced = await kafka.produce(topic_name, records_with_poison(10, poison_at=3))
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    group = f"g-{uuid.uuid4().hex}"
    env = s3_environment(
        kafka,
        local_lambda,
        moto_server,
        s3_bucket,
        topic_name,
        group,
        on_failure="stall",
        batch_size=1,
        ordering="partition",
        shutdown_timeout_seconds=1,
        **FAST_RETRIES,
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, 3)
        await until(lambda: running.bridge.counters.function_errors >= 4)
        await running.stopped()

    assert not await dead_letters_in(moto_server, s3_bucket, "dead/")
    assert await kafka.committed_offsets(group, topic_name) == {0: produced[3].offset}


async def test_a_record_older_than_the_maximum_age_is_dead_lettered_instead_of_retried(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    await kafka.create_topic(topic_name)
    an_hour_ago_ms = int((time.time() - 3600) * 1000)
    produced = await kafka.produce(
        topic_name,
        [TestRecord(value=b"fresh"), TestRecord(value=POISON, timestamp_ms=an_hour_ago_ms)],
    )
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    group = f"g-{uuid.uuid4().hex}"
    env = s3_environment(
        kafka,
        local_lambda,
        moto_server,
        s3_bucket,
        topic_name,
        group,
        max_record_age_seconds=60,
        max_retries=1000,
        batch_size=1,
        retry_backoff_base_ms=1,
        retry_backoff_max_ms=20,
    )
    async with running_bridge(env) as running:
        await until(lambda: running.bridge.counters.dead_lettered == 1)
        await running.stopped()

    (letter,) = await dead_letters_in(moto_server, s3_bucket, "dead/")
    assert letter["error"]["type"] == "RecordTooOld"
    assert letter["record"]["offset"] == produced[1].offset
    assert letter["attempts"] == 1, "dead-lettered at its first retry, not after 1000"
    assert await kafka.committed_offsets(group, topic_name) == {0: 2}
