"""Dead letters as SQS and SNS messages: exactly what failed, with why; what does not fit a
message goes whole to S3; the offset moves only once the service has the message."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import aioboto3
import pytest

from consumer.aws_lambda.invoker import LambdaInvoker
from consumer.bridge import Bridge
from consumer.errors import ConfigurationError
from consumer.local import FunctionSpec, LocalLambda
from consumer.settings.model import load_settings
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    assert_all_delivered,
    running_bridge,
    until,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord
from tests.support.message_queues import (
    ACCOUNT,
    create_queue,
    create_topic_with_queue,
    documents_of,
    message_environment,
    messages_in,
)
from tests.support.moto_fixtures import REGION, MotoServer
from tests.support.poison import FAST_RETRIES, POISON, carries_poison, records_with_poison

pytestmark = pytest.mark.usefixtures("aws_test_credentials")

LARGE = b"L" * 20_000  # over a 16 KiB message once in base64


def carries_large(event: Any) -> bool:
    return any(len(r.get("value", "")) > 10_000 for rs in event["records"].values() for r in rs)


@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
async def test_a_record_the_function_keeps_failing_goes_to_an_sqs_queue_with_its_reason(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
    fifo: bool,
) -> None:
    await kafka.create_topic(topic_name, partitions=2)
    poisoned = TestRecord(key=b"kp", value=POISON, headers=[("trace", b"t-1")], partition=1)
    produced = await kafka.produce(topic_name, [*records_with_poison(100, poison_at=-1), poisoned])
    url = await create_queue(moto_server, fifo=fifo)
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    group = f"g-{uuid.uuid4().hex}"
    env = message_environment(
        kafka,
        local_lambda,
        moto_server,
        url,
        f"s3://{s3_bucket}/big/",
        topic_name,
        group,
        **FAST_RETRIES,
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, 100)
        await until(lambda: running.bridge.counters.dead_lettered == 1)
        await running.stopped()

    assert_all_delivered(produced[:-1], sink.delivered)
    (message,) = await messages_in(moto_server, url)
    (document,) = documents_of([message])
    record = document["record"]
    assert (record["topic"], record["partition"], record["offset"]) == (
        topic_name,
        1,
        produced[-1].offset,
    )
    assert base64.b64decode(record["key"]) == b"kp"
    assert base64.b64decode(record["value"]) == POISON
    assert record["headers"] == [{"key": "trace", "value": base64.b64encode(b"t-1").decode()}]
    assert document["error"]["type"] == "SimulatedFunctionError"
    assert document["functionName"] == FUNCTION
    assert "overflow" not in document
    attributes = {name: a["StringValue"] for name, a in message["MessageAttributes"].items()}
    assert attributes == {
        "error.type": "SimulatedFunctionError",
        "source.topic": topic_name,
        "source.partition": "1",
        "source.offset": str(produced[-1].offset),
    }
    if fifo:
        assert message["Attributes"]["MessageGroupId"] == f"{topic_name}-1"
    committed = await kafka.committed_offsets(group, topic_name)
    assert committed[1] == produced[-1].offset + 1


async def test_a_dead_letter_published_to_an_sns_topic_reaches_a_subscribed_queue(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    await kafka.create_topic(topic_name)
    produced = await kafka.produce(topic_name, records_with_poison(30, poison_at=7))
    topic_arn, url = await create_topic_with_queue(moto_server)
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    group = f"g-{uuid.uuid4().hex}"
    env = message_environment(
        kafka,
        local_lambda,
        moto_server,
        topic_arn,
        f"s3://{s3_bucket}/big/",
        topic_name,
        group,
        **FAST_RETRIES,
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, 29)
        await until(lambda: running.bridge.counters.dead_lettered == 1)
        await running.stopped()

    (message,) = await messages_in(moto_server, url)
    envelope = json.loads(message["Body"])
    assert envelope["TopicArn"] == topic_arn
    assert envelope["MessageAttributes"]["error.type"]["Value"] == "SimulatedFunctionError"
    (document,) = documents_of([message])
    assert document["record"]["offset"] == produced[7].offset
    assert base64.b64decode(document["record"]["value"]) == POISON
    assert await kafka.committed_offsets(group, topic_name) == {0: 30}


async def test_a_letter_too_large_for_a_message_goes_whole_to_s3_and_the_message_points_there(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    await kafka.create_topic(topic_name)
    produced = await kafka.produce(
        topic_name, [TestRecord(value=b"a"), TestRecord(key=b"big", value=LARGE)]
    )
    url = await create_queue(moto_server, MaximumMessageSize="16384")
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_large))
    env = message_environment(
        kafka,
        local_lambda,
        moto_server,
        url,
        f"s3://{s3_bucket}/big",
        topic_name,
        f"g-{uuid.uuid4().hex}",
        **FAST_RETRIES,
    )
    async with running_bridge(env) as running:
        await until(lambda: running.bridge.counters.dead_lettered == 1)
        await running.stopped()

    (message,) = await messages_in(moto_server, url)
    (pointer,) = documents_of([message])
    assert pointer["record"]["offset"] == produced[1].offset
    assert "value" not in pointer["record"]
    assert "key" not in pointer["record"]
    place = pointer["overflow"]
    assert place["bucket"] == s3_bucket
    assert place["key"].startswith(f"big/{topic_name}/00000/")
    assert message["MessageAttributes"]["overflow"]["StringValue"] == (
        f"s3://{s3_bucket}/{place['key']}"
    )
    async with aioboto3.Session().client("s3", **moto_server.client_kwargs()) as s3:
        body = await (await s3.get_object(Bucket=s3_bucket, Key=place["key"]))["Body"].read()
    whole = json.loads(body)
    assert base64.b64decode(whole["record"]["value"]) == LARGE
    assert base64.b64decode(whole["record"]["key"]) == b"big"
    assert whole["error"] == pointer["error"]


async def test_a_refused_send_holds_the_commit_and_the_letter_arrives_once_the_queue_is_back(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    await kafka.create_topic(topic_name)
    url = await create_queue(moto_server)
    name = url.rsplit("/", 1)[1]
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    group = f"g-{uuid.uuid4().hex}"
    env = message_environment(
        kafka,
        local_lambda,
        moto_server,
        url,
        f"s3://{s3_bucket}/big/",
        topic_name,
        group,
        commit_interval_ms=50,
        **FAST_RETRIES,
    )
    async with (
        running_bridge(env) as running,
        aioboto3.Session().client("sqs", **moto_server.client_kwargs()) as sqs,
    ):
        await running.bridge.ready.wait()  # started: the queue was there
        await sqs.delete_queue(QueueUrl=url)
        produced = await kafka.produce(topic_name, records_with_poison(20, poison_at=5))
        counters = running.bridge.counters
        await until(lambda: counters.dead_letter_write_failures >= 3)
        committed_during_outage = await kafka.committed_offsets(group, topic_name)
        assert committed_during_outage.get(0, 0) <= produced[5].offset
        await sqs.create_queue(QueueName=name)
        await until(lambda: counters.dead_lettered == 1)
        await wait_for_deliveries(local_lambda, sink, 19)
        await running.stopped()

    (document,) = documents_of(await messages_in(moto_server, url))
    assert document["record"]["offset"] == produced[5].offset
    assert await kafka.committed_offsets(group, topic_name) == {0: 20}


@pytest.mark.parametrize(
    ("dlq", "said"),
    [
        (f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/no-such-queue", "no such queue"),
        (f"arn:aws:sns:{REGION}:{ACCOUNT}:no-such-topic", "no such topic"),
    ],
)
async def test_a_missing_queue_or_topic_stops_the_bridge_at_start_up_naming_dlq(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
    dlq: str,
    said: str,
) -> None:
    await kafka.create_topic(topic_name)
    local_lambda.add_function(FunctionSpec(FUNCTION, RecordingSink()))
    env = message_environment(
        kafka, local_lambda, moto_server, dlq, f"s3://{s3_bucket}/big/", topic_name, "g"
    )
    settings = load_settings(env)
    async with LambdaInvoker(settings) as invoker:
        with pytest.raises(ConfigurationError) as refused:
            await Bridge(settings, invoker).run(asyncio.Event())
    assert str(refused.value).startswith(f"DLQ={dlq}: {said}")
