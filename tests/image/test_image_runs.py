"""The built image run as the ECS task runs it (read-only, its non-root user, a volume on
/tmp) against the embedded broker and the local Lambda: what it does without settings,
delivery and dead letters, the health check, and a stop."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from consumer.health.heartbeat import DEFAULT_HEALTH_FILE
from consumer.local import FunctionSpec, LocalLambda
from infra.container import HEALTH_CHECK_COMMAND, TMP_PATH
from infra.settings import STOP_TIMEOUT_MARGIN_S
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    assert_all_delivered,
    bridge_environment,
    the_error,
)
from tests.support.image_run import run_image, running_image
from tests.support.kafka_records import KafkaTestClient, TestRecord
from tests.support.poison import FAST_RETRIES, POISON, carries_poison, records_with_poison

SHUTDOWN_TIMEOUT_S = 20
# ECS's stop timeout, a margin above the bridge's (infra/settings.py): then SIGKILL.
STOP_TIMEOUT_S = SHUTDOWN_TIMEOUT_S + STOP_TIMEOUT_MARGIN_S
DEAD_LETTERS = f"{TMP_PATH}/dead-letters"


def image_environment(
    kafka: KafkaTestClient, local_lambda: LocalLambda, topic: str, **overrides: Any
) -> dict[str, str]:
    """The bridge's settings, with fake AWS keys, and the heartbeat at its default place."""
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic,
        f"g-{uuid.uuid4().hex}",
        shutdown_timeout_seconds=SHUTDOWN_TIMEOUT_S,
        **overrides,
    )
    del env["HEALTH_FILE"]
    return {**env, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def dead_letters_in(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*/*/*.json"))]


async def test_without_settings_it_logs_the_first_missing_one_and_exits_2(
    image: str, tmp_volume: tuple[str, Path]
) -> None:
    code, output = await run_image(image, tmp_volume[0], {})

    assert code == 2, output
    lines = output.splitlines()
    assert all(line.startswith("{") for line in lines), f"not one JSON object per line: {lines}"
    assert "KAFKA_BOOTSTRAP_SERVERS is required" in the_error([json.loads(x) for x in lines])


async def test_it_delivers_every_record_and_dead_letters_the_poison_one_under_tmp(
    image: str,
    embedded_broker: KafkaTestClient,
    local_lambda: LocalLambda,
    topic_name: str,
    tmp_volume: tuple[str, Path],
) -> None:
    await embedded_broker.create_topic(topic_name, partitions=4)
    produced = await embedded_broker.produce(topic_name, records_with_poison(300, poison_at=123))
    poison = next(p for p in produced if p.record.value == POISON)
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    volume, volume_here = tmp_volume
    env = image_environment(
        embedded_broker, local_lambda, topic_name, dlq=f"file://{DEAD_LETTERS}", **FAST_RETRIES
    )

    async with running_image(image, volume, env) as bridge:
        await bridge.until(lambda: sink.distinct_count() == len(produced) - 1)
        await bridge.until(lambda: bool(dead_letters_in(volume_here / "dead-letters")))
        await bridge.stop(STOP_TIMEOUT_S)
        assert await bridge.exit_code() == 0, bridge.output()

    assert_all_delivered([p for p in produced if p is not poison], sink.delivered)
    (letter,) = dead_letters_in(volume_here / "dead-letters")
    record = letter["record"]
    assert (record["partition"], record["offset"]) == (poison.partition, poison.offset)
    assert record["value"] == "eyJ2YXJpYW50IjogInBvaXNvbiJ9"  # POISON, base64
    assert bridge.logged()[-1]["counters"]["dead_lettered"] == 1


async def test_the_health_check_passes_while_it_runs_and_fails_once_it_stopped(
    image: str,
    embedded_broker: KafkaTestClient,
    local_lambda: LocalLambda,
    topic_name: str,
    tmp_volume: tuple[str, Path],
) -> None:
    await embedded_broker.create_topic(topic_name)
    await embedded_broker.produce(topic_name, [TestRecord(value=b"1")])
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    volume = tmp_volume[0]
    env = image_environment(embedded_broker, local_lambda, topic_name)

    async with running_image(image, volume, env) as bridge:
        await bridge.until(lambda: sink.distinct_count() == 1)  # it consumes: heartbeat written
        running = await bridge.exec(*HEALTH_CHECK_COMMAND)
        await bridge.stop(STOP_TIMEOUT_S)
        assert await bridge.exit_code() == 0, bridge.output()
    stopped = await run_image(image, volume, {}, *HEALTH_CHECK_COMMAND)

    assert running[0] == 0, running[1]
    assert running[1].startswith("healthy: heartbeat")
    assert stopped[0] == 1, stopped[1]
    assert stopped[1].startswith(f"unhealthy: no heartbeat at {DEFAULT_HEALTH_FILE}")


async def test_sigterm_drains_commits_what_was_delivered_and_exits_0_within_the_timeout(
    image: str,
    embedded_broker: KafkaTestClient,
    local_lambda: LocalLambda,
    topic_name: str,
    tmp_volume: tuple[str, Path],
) -> None:
    records = [TestRecord(key=f"k{i % 31}".encode(), value=f"{i}".encode()) for i in range(2000)]
    await embedded_broker.create_topic(topic_name, partitions=4)
    await embedded_broker.produce(topic_name, records)
    sink = RecordingSink()
    # A slow function and small buffers: records are in flight when the signal comes.
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=0.1))
    env = image_environment(
        embedded_broker,
        local_lambda,
        topic_name,
        batch_size=10,
        max_in_flight_per_partition=1,
        max_buffered_records_per_partition=50,
    )
    loop = asyncio.get_running_loop()

    async with running_image(image, tmp_volume[0], env) as bridge:
        await bridge.until(lambda: sink.distinct_count() >= len(records) // 4)
        signalled_at = loop.time()
        await bridge.stop(STOP_TIMEOUT_S)
        code = await bridge.exit_code()
        stopped_after_s = loop.time() - signalled_at

    assert code == 0, bridge.output()
    assert stopped_after_s < SHUTDOWN_TIMEOUT_S
    assert bridge.messages()[-3:] == [
        "signal received",
        "stopping: finishing the invocations in flight, then committing",
        "stopped",
    ]
    counters = bridge.logged()[-1]["counters"]
    assert counters["records_delivered"] == counters["records_fetched"], "fetched, not drained"
    delivered = sink.delivered
    assert len({(d.partition, d.offset) for d in delivered}) < len(records), "stopped too late"
    # Drained: every record the function took is committed, and nothing past them.
    highest: dict[int, int] = {}
    for d in delivered:
        highest[d.partition] = max(highest.get(d.partition, -1), d.offset)
    group = env["KAFKA_GROUP_ID"]
    committed = await embedded_broker.committed_offsets(group, topic_name)
    assert committed == {partition: offset + 1 for partition, offset in highest.items()}
