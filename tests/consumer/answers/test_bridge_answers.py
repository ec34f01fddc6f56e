"""The function's answers reach RESPONSE_TOPIC before their records are committed, with their
source headers, per-record results keyed and ordered like their sources; function errors
reach ERROR_TOPIC. Real broker, real local Lambda."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from consumer.answers.records import (
    ATTEMPT,
    ERROR_TYPE,
    FIRST_OFFSET,
    FUNCTION_NAME,
    LAST_OFFSET,
    REQUEST_ID,
    SOURCE_OFFSET,
    SOURCE_PARTITION,
    SOURCE_TOPIC,
    UNSPLIT_REASON,
)
from consumer.local import FunctionSpec, LocalLambda, Outcome
from examples.answering_handler import handler as answering_handler
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    bridge_environment,
    run_to_exit,
    running_bridge,
    the_error,
    until,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord


@dataclass(frozen=True)
class Answered:
    partition: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]


async def read_topic(
    kafka: KafkaUnderTest, topic: str, at_least: int, timeout_s: float = 60
) -> list[Answered]:
    """Every record of `topic` once at least `at_least` are there, in partition order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(await kafka.partition_count(topic))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[Answered] = []
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(found) < at_least:
            assert asyncio.get_running_loop().time() < deadline, (
                f"only {len(found)} of {at_least} records on {topic} after {timeout_s} s"
            )
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                found.extend(
                    Answered(r.partition, r.key, r.value, dict(r.headers)) for r in records
                )
        return found
    finally:
        await consumer.stop()


async def set_max_message_bytes(kafka: KafkaUnderTest, topic: str, max_bytes: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": str(max_bytes)})]
        )
    finally:
        await admin.close()


def keyed(count: int, keys: int) -> list[TestRecord]:
    return [
        TestRecord(key=f"k{i % keys}".encode(), value=json.dumps({"n": i}).encode())
        for i in range(count)
    ]


async def test_whole_answers_arrive_with_their_source_headers(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=2)
    answers = await kafka.create_topic(f"{topic_name}-answers")
    produced = await kafka.produce(topic_name, keyed(40, 5))

    def count_them(event: dict[str, Any], context: object) -> dict[str, Any]:
        records = [r for rs in event["records"].values() for r in rs]
        return {"count": len(records), "offsets": [r["offset"] for r in records]}

    local_lambda.add_function(FunctionSpec(FUNCTION, count_them))
    group = f"g-{uuid.uuid4().hex}"
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        group,
        batch_size=10,
        response_topic=f"kafka://{answers}",
    )
    async with running_bridge(env) as running:
        await until(lambda: running.bridge.counters.records_delivered >= len(produced))
        await running.stopped()
        counters = running.bridge.counters

    ok = [i for i in local_lambda.record.invocations(FUNCTION) if i.outcome is Outcome.OK]
    found = await read_topic(kafka, answers, len(ok))
    assert counters.answers_produced == len(found) == len(ok)
    request_ids = {i.request_id: i.response for i in ok}
    answered_offsets: set[tuple[int, int]] = set()
    for answer in found:
        body = json.loads(answer.value or b"")
        source_partition = int(answer.headers[SOURCE_PARTITION])
        assert answer.headers[SOURCE_TOPIC] == topic_name.encode()
        assert answer.headers[FUNCTION_NAME] == FUNCTION.encode()
        assert answer.key == f"{topic_name}-{source_partition}".encode()
        assert int(answer.headers[FIRST_OFFSET]) == body["offsets"][0]
        assert int(answer.headers[LAST_OFFSET]) == body["offsets"][-1]
        assert (
            request_ids[answer.headers[REQUEST_ID].decode()] == body
        )  # the answer of that request
        answered_offsets.update((source_partition, o) for o in body["offsets"])
    assert answered_offsets == {(p.partition, p.offset) for p in produced}


async def test_per_record_answers_are_keyed_like_their_sources_and_in_order_per_key(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=3)
    answers = await kafka.create_topic(f"{topic_name}-answers", partitions=4)
    produced = await kafka.produce(topic_name, keyed(600, 17))
    local_lambda.add_function(FunctionSpec(FUNCTION, answering_handler, latency_s=(0, 0.01)))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        batch_size=7,
        max_in_flight_per_partition=4,
        response_topic=f"kafka://{answers}",
    )
    async with running_bridge(env) as running:
        await until(lambda: running.bridge.counters.records_delivered >= len(produced))
        await running.stopped()

    assert local_lambda.record.peak_in_flight(FUNCTION) > 1, "never more than one in flight"
    found = await read_topic(kafka, answers, len(produced))
    sources = {(p.partition, p.offset): p.record for p in produced}
    order: dict[bytes | None, list[tuple[int, int]]] = {}
    for answer in found:
        source = (int(answer.headers[SOURCE_PARTITION]), int(answer.headers[SOURCE_OFFSET]))
        record = sources[source]
        assert answer.key == record.key
        assert json.loads(answer.value or b"") == {
            "length": len(record.value or b""),
            "n": json.loads(record.value or b"")["n"],
        }
        order.setdefault(answer.key, []).append(source)
    assert {s for got in order.values() for s in got} == set(sources), "a record unanswered"
    partitions_of_key = {a.key: set() for a in found}
    for answer in found:
        partitions_of_key[answer.key].add(answer.partition)
    assert all(len(p) == 1 for p in partitions_of_key.values()), "a key on two partitions"
    for key, got in order.items():
        assert got == sorted(got), f"answers of key {key!r} out of their source order"


async def test_nothing_is_committed_before_its_answer_is_acknowledged(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name)
    answers = await kafka.create_topic(f"{topic_name}-answers")
    # The broker refuses every answer until the topic takes records of their size.
    await set_max_message_bytes(kafka, answers, 1)
    produced = await kafka.produce(topic_name, keyed(30, 3))
    local_lambda.add_function(FunctionSpec(FUNCTION, answering_handler))
    group = f"g-{uuid.uuid4().hex}"
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        group,
        batch_size=10,
        retry_backoff_base_ms=20,
        retry_backoff_max_ms=200,
        response_topic=f"kafka://{answers}",
    )
    async with running_bridge(env) as running:
        counters = running.bridge.counters
        await until(lambda: counters.answer_produce_failures >= 3)
        committed_before = counters.commits
        await until(lambda: counters.commits > committed_before + 2)  # commits did happen
        assert await kafka.committed_offsets(group, topic_name) in ({}, {0: 0})
        assert counters.records_delivered == 0
        await set_max_message_bytes(kafka, answers, 1_048_588)
        await until(lambda: counters.records_delivered == len(produced))
        await running.stopped()

    assert await kafka.committed_offsets(group, topic_name) == {0: len(produced)}
    # Produces were retried, the function was not invoked again for them.
    invoked = [
        record["offset"]
        for event in local_lambda.record.events(FUNCTION)
        for records in event["records"].values()
        for record in records
    ]
    assert sorted(invoked) == [p.offset for p in produced]
    found = await read_topic(kafka, answers, len(produced))
    assert {int(a.headers[SOURCE_OFFSET]) for a in found} == {p.offset for p in produced}


async def test_function_errors_go_to_the_error_topic_and_delivery_goes_on(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name)
    errors = await kafka.create_topic(f"{topic_name}-errors")
    produced = await kafka.produce(topic_name, keyed(20, 4))
    failed_at_first: set[int] = set()

    def first_batch_fails_twice(event: dict[str, Any]) -> bool:
        first = next(iter(event["records"].values()))[0]["offset"]
        if first == 0 and len(failed_at_first) < 2:
            failed_at_first.add(len(failed_at_first))
            return True
        return False

    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=first_batch_fails_twice))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        batch_size=20,
        function_error_backoff_max_ms=50,
        retry_backoff_base_ms=10,
        error_topic=f"kafka://{errors}",
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, len(produced))
        await running.stopped()
        counters = running.bridge.counters

    found = await read_topic(kafka, errors, 2)
    outcomes = [i.outcome for i in local_lambda.record.invocations(FUNCTION)]
    failed = [
        i for i in local_lambda.record.invocations(FUNCTION) if i.outcome is Outcome.FUNCTION_ERROR
    ]
    assert len(failed) == 2, outcomes
    assert len(found) == counters.errors_produced == 2
    assert [a.headers[ATTEMPT] for a in found] == [b"1", b"2"]
    for answer, invocation in zip(found, failed, strict=True):
        assert answer.headers[REQUEST_ID] == invocation.request_id.encode()
        assert answer.headers[ERROR_TYPE] == b"SimulatedFunctionError"
        assert json.loads(answer.value or b"")["errorType"] == "SimulatedFunctionError"
        assert answer.headers[FIRST_OFFSET] == b"0"
        assert answer.headers[LAST_OFFSET] == b"19"


async def test_a_missing_answer_topic_stops_the_start_with_its_setting_named(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name)
    local_lambda.add_function(FunctionSpec(FUNCTION, answering_handler))
    missing = f"{topic_name}-nowhere"
    env = bridge_environment(
        kafka, local_lambda.url, topic_name, "g", response_topic=f"kafka://{missing}"
    )
    code, lines = await run_to_exit(env)
    assert code != 0
    message = the_error(lines)
    assert f"RESPONSE_TOPIC: topic {missing} does not exist" in message
    assert "the bridge never creates it" in message
    assert await kafka.partition_count(missing) == 0, "the check created the topic"


async def test_results_of_records_reported_failed_are_answered_once_by_their_retry(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name)
    answers = await kafka.create_topic(f"{topic_name}-answers")
    produced = await kafka.produce(topic_name, keyed(30, 3))
    failed_once: set[int] = set()

    def fail_every_tenth_plus_three_once(event: dict[str, Any], context: object) -> Any:
        answer = answering_handler(event, context)
        offsets = [r["offset"] for rs in event["records"].values() for r in rs]
        failing = [o for o in offsets if o % 10 == 3 and o not in failed_once]
        failed_once.update(failing)
        # Results for every record, the failed ones too: the bridge must leave those out.
        answer["batchItemFailures"] = [{"itemIdentifier": str(o)} for o in failing]
        return answer

    local_lambda.add_function(FunctionSpec(FUNCTION, fail_every_tenth_plus_three_once))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        batch_size=10,
        function_error_backoff_max_ms=50,
        retry_backoff_base_ms=10,
        response_topic=f"kafka://{answers}",
    )
    async with running_bridge(env) as running:
        await until(lambda: running.bridge.counters.records_delivered >= len(produced))
        await running.stopped()

    assert failed_once == {3, 13, 23}
    found = await read_topic(kafka, answers, len(produced))
    offsets = [int(a.headers[SOURCE_OFFSET]) for a in found]
    assert sorted(offsets) == [p.offset for p in produced], "each record answered once"
    by_key: dict[bytes | None, list[int]] = {}
    for answer, offset in zip(found, offsets, strict=True):
        by_key.setdefault(answer.key, []).append(offset)
    assert all(got == sorted(got) for got in by_key.values()), by_key


async def test_results_that_cannot_be_split_arrive_whole_with_the_reason(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name)
    answers = await kafka.create_topic(f"{topic_name}-answers")
    await kafka.produce(topic_name, keyed(5, 2))
    hostile = {"results": [{"itemIdentifier": "999999", "value": 1}]}
    local_lambda.add_function(FunctionSpec(FUNCTION, lambda event, context: hostile))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        batch_size=5,
        batch_window_ms=2000,
        response_topic=f"kafka://{answers}",
    )
    async with running_bridge(env) as running:
        await until(lambda: running.bridge.counters.records_delivered >= 5)
        await running.stopped()
        counters = running.bridge.counters

    found = await read_topic(kafka, answers, 1)
    assert counters.answers_unsplit == len(found) >= 1
    assert all(json.loads(a.value or b"") == hostile for a in found)
    assert all(b"not in the invocation" in a.headers[UNSPLIT_REASON] for a in found)
