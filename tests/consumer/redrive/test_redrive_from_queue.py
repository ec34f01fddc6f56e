"""Redrive from an SQS dead-letter queue, or from a queue subscribed to an SNS one: a delivered
letter's message is deleted, every other one is left in the queue, visible again."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aioboto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.local import FunctionSpec, LocalLambda
from consumer.redrive.letters import Selection
from consumer.redrive.run import run
from consumer.settings.model import load_settings
from tests.consumer.redrive.test_redrive import dead_letter_three_poisons, redrive
from tests.support.bridge_harness import FUNCTION, RecordingSink, running_bridge, until
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord
from tests.support.message_queues import (
    create_queue,
    create_topic_with_queue,
    message_environment,
    messages_in,
)
from tests.support.moto_fixtures import MotoServer
from tests.support.poison import FAST_RETRIES, POISON

pytestmark = pytest.mark.usefixtures("aws_test_credentials")

QUICK = ("--wait-seconds", "1")


async def test_redriving_an_sqs_queue_deletes_what_it_delivers_and_leaves_what_fails(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    url = await create_queue(moto_server)
    env = message_environment(
        kafka,
        local_lambda,
        moto_server,
        url,
        f"s3://{s3_bucket}/big/",
        topic_name,
        f"g-{uuid.uuid4().hex}",
        **FAST_RETRIES,
    )
    await dead_letter_three_poisons(kafka, local_lambda, topic_name, env)

    code, listed = await redrive(env, "--dry-run", *QUICK)
    assert code == 0
    assert listed[-1] == {"summary": True, "dry_run": True, "would_redrive": 3}
    assert len(await messages_in(moto_server, url)) == 3, "a dry run deletes nothing"

    code, report = await redrive(env, "--partition", "1", *QUICK)  # the function still fails
    assert code == 1
    assert [(line["partition"], line["result"]) for line in report[:-1]] == [(1, "failed")]
    assert "SimulatedFunctionError" in report[0]["error"]
    assert len(await messages_in(moto_server, url)) == 3, "left, and visible again"

    fixed = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, fixed))
    code, report = await redrive(env, *QUICK)
    assert (code, report[-1]) == (0, {"summary": True, "delivered": 3, "failed": 0})
    assert sorted((d.partition, d.value) for d in fixed.delivered) == [
        (0, POISON),
        (1, POISON),
        (2, POISON),
    ]
    assert await messages_in(moto_server, url) == []
    code, again = await redrive(env, *QUICK)
    assert (code, again) == (0, [{"summary": True, "delivered": 0, "failed": 0}])


@pytest.mark.parametrize("raw", [False, True], ids=["envelope", "raw"])
async def test_redriving_an_sns_dead_letter_reads_a_subscribed_queue_and_its_s3_overflow(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
    raw: bool,
) -> None:
    large = b"L" * 300_000  # over SNS's 256 KiB once in base64
    topic_arn, url = await create_topic_with_queue(moto_server, raw=raw)
    env = message_environment(
        kafka,
        local_lambda,
        moto_server,
        topic_arn,
        f"s3://{s3_bucket}/big/",
        topic_name,
        f"g-{uuid.uuid4().hex}",
        **FAST_RETRIES,
    )
    await kafka.create_topic(topic_name)
    await kafka.produce(topic_name, [TestRecord(key=b"k", value=large)])
    local_lambda.add_function(FunctionSpec(FUNCTION, RecordingSink(), fail_when=lambda event: True))
    async with running_bridge(env) as running:
        await until(lambda: running.bridge.counters.dead_lettered == 1)
        await running.stopped()

    code, refused = await redrive(env, *QUICK)
    assert code == 2, "an SNS topic cannot be read"
    (said,) = refused
    assert said["message"].endswith(
        "give --from-queue <queue URL or ARN>, a queue subscribed to the topic"
    )

    fixed = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, fixed))
    code, report = await redrive(env, "--from-queue", url, *QUICK)
    assert report[0].get("result") == "delivered", report
    assert (code, report[-1]) == (0, {"summary": True, "delivered": 1, "failed": 0})
    assert [(d.key, d.value) for d in fixed.delivered] == [(b"k", large)]
    assert await messages_in(moto_server, url) == []


def _hostile_bodies() -> st.SearchStrategy[str]:
    """Message bodies from outside: text, JSON of any shape, a dead letter with one field
    replaced by any JSON value, an SNS envelope around any text."""
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )

    def damaged(field: str, value: Any) -> str:
        document = json.loads(json.dumps(VALID))
        if field in document["record"]:
            document["record"][field] = value
        else:
            document[field] = value
        return json.dumps(document)

    fields = st.sampled_from([*VALID["record"], "lastAttemptAt", "record", "overflow"])
    xml_text = st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        min_size=1,
        max_size=200,
    ).filter(lambda text: all(c in "\t\n\r" or c >= " " for c in text))
    return st.one_of(
        xml_text,
        json_values.map(json.dumps),
        st.builds(damaged, fields, json_values),
        st.builds(lambda inner: json.dumps({"Type": "Notification", "Message": inner}), xml_text),
    )


VALID: dict[str, Any] = {
    "record": {
        "topic": "t",
        "partition": 0,
        "offset": 1,
        "timestamp": 0,
        "timestampType": "CREATE_TIME",
        "key": None,
        "value": "eA==",
        "headers": [],
    },
    "error": {"type": "E", "message": "m"},
    "lastAttemptAt": "2026-01-01T00:00:00+00:00",
}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(bodies=st.lists(_hostile_bodies(), min_size=1, max_size=5))
async def test_hostile_queue_messages_are_reported_unreadable_and_left(
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    capsys: pytest.CaptureFixture[str],
    bodies: list[str],
) -> None:
    """Each message is delivered (deleted) if it still is a dead letter, else reported
    unreadable and left; the run never stops on one."""
    url = await create_queue(moto_server)
    async with aioboto3.Session().client("sqs", **moto_server.client_kwargs()) as sqs:
        for body in [json.dumps(VALID), *bodies]:
            await sqs.send_message(QueueUrl=url, MessageBody=body)
    fixed = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, fixed))
    env = message_environment(
        _NoKafka(), local_lambda, moto_server, url, f"s3://{s3_bucket}/big/", "t", "g"
    )
    capsys.readouterr()
    code = await run(load_settings(env), Selection(None, None, frozenset()), False, wait_s=0)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    results = [line["result"] for line in lines[:-1]]
    assert len(results) == len(bodies) + 1
    assert set(results) <= {"delivered", "unreadable"}
    unreadable = results.count("unreadable")
    assert lines[-1] == {"summary": True, "delivered": len(fixed.delivered), "failed": unreadable}
    assert code == (1 if unreadable else 0)
    assert len(fixed.delivered) >= 1, "the valid letter among them"
    assert len(await messages_in(moto_server, url)) == unreadable


class _NoKafka:
    bootstrap = "kafka.invalid:9092"  # a queue is read without Kafka
