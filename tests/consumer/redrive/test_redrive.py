"""`python -m consumer.redrive` sends dead letters to the fixed function once, and only once."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any

import pytest

from consumer.local import FunctionSpec, LocalLambda
from tests.support.bridge_harness import (
    FUNCTION,
    REPO,
    RecordingSink,
    bridge_environment,
    running_bridge,
    until,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord
from tests.support.moto_fixtures import MotoServer
from tests.support.poison import (
    FAST_RETRIES,
    POISON,
    carries_poison,
    dead_letters_in,
    s3_environment,
)

pytestmark = pytest.mark.usefixtures("aws_test_credentials")


async def redrive(env: dict[str, str], *options: str) -> tuple[int, list[dict[str, Any]]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer.redrive",
        *options,
        env={
            "PATH": "",
            "PYTHONPATH": str(REPO),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    assert not err.strip() or process.returncode != 0, err.decode()
    return process.returncode, [json.loads(line) for line in out.decode().splitlines()]


async def dead_letter_three_poisons(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic: str, env: dict[str, str]
) -> RecordingSink:
    await kafka.create_topic(topic, partitions=3)
    records = [TestRecord(key=f"k{i}".encode(), value=b"1", partition=i % 3) for i in range(30)]
    records += [TestRecord(key=b"p", value=POISON, partition=p) for p in range(3)]
    await kafka.produce(topic, records)
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, 30)
        await until(lambda: running.bridge.counters.dead_lettered == 3)
        await running.stopped()
    return sink


async def test_redriving_s3_dead_letters_to_a_fixed_function_delivers_them_once(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    env = s3_environment(
        kafka,
        local_lambda,
        moto_server,
        s3_bucket,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        **FAST_RETRIES,
    )
    await dead_letter_three_poisons(kafka, local_lambda, topic_name, env)

    code, listed = await redrive(env, "--dry-run")
    assert code == 0
    assert [line["result"] for line in listed[:-1]] == ["would redrive"] * 3
    assert listed[-1] == {"summary": True, "dry_run": True, "would_redrive": 3}
    assert len(await dead_letters_in(moto_server, s3_bucket, "dead/")) == 3, "dry run moved nothing"

    fixed = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, fixed))
    code, report = await redrive(env)
    assert code == 0
    assert sorted((line["partition"], line["result"]) for line in report[:-1]) == [
        (0, "delivered"),
        (1, "delivered"),
        (2, "delivered"),
    ]
    assert report[-1] == {"summary": True, "delivered": 3, "failed": 0}
    assert sorted(d.partition for d in fixed.delivered) == [0, 1, 2]
    assert all(d.value == POISON for d in fixed.delivered)
    assert len(await dead_letters_in(moto_server, s3_bucket, "dead/redriven/")) == 3

    code, again = await redrive(env)
    assert (code, again) == (0, [{"summary": True, "delivered": 0, "failed": 0}])
    assert len(fixed.delivered) == 3


async def test_redriving_to_a_still_broken_function_keeps_the_dead_letters(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    env = s3_environment(
        kafka,
        local_lambda,
        moto_server,
        s3_bucket,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        **FAST_RETRIES,
    )
    await dead_letter_three_poisons(kafka, local_lambda, topic_name, env)
    code, report = await redrive(env, "--partition", "1")
    assert code == 1
    assert [(line["partition"], line["result"]) for line in report[:-1]] == [(1, "failed")]
    assert "SimulatedFunctionError" in report[0]["error"]
    assert len(await dead_letters_in(moto_server, s3_bucket, "dead/")) == 3


# Redrive reads a dead-letter topic up to its end offsets, which Tansu reports short of the
# last batch: this needs the Apache broker's exact ones.
@pytest.mark.apache_kafka
async def test_redriving_a_kafka_dead_letter_topic_commits_past_what_it_delivered(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    dlq_topic = await kafka.create_topic(f"{topic_name}-dlq")
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        dlq=f"kafka://{dlq_topic}",
        **FAST_RETRIES,
    )
    await dead_letter_three_poisons(kafka, local_lambda, topic_name, env)
    fixed = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, fixed))

    code, report = await redrive(env)
    assert (code, report[-1]) == (0, {"summary": True, "delivered": 3, "failed": 0})
    assert sorted((d.partition, d.value) for d in fixed.delivered) == [
        (0, POISON),
        (1, POISON),
        (2, POISON),
    ]
    code, again = await redrive(env)
    assert (code, again) == (0, [{"summary": True, "delivered": 0, "failed": 0}])
