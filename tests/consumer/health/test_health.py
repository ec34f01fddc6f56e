"""The heartbeat the event loop writes and the health command that reads it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path

from consumer.health.heartbeat import check, write_heartbeat
from consumer.local import FunctionSpec, LocalLambda
from tests.support.bridge_harness import (
    FUNCTION,
    REPO,
    bridge_environment,
    running_bridge,
    until,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord


def test_a_fresh_heartbeat_is_healthy_and_a_stale_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "health"
    write_heartbeat(path, {"interval_s": 5})
    assert check(path)[0]
    healthy, why = check(path, now=time.time() + 16)
    assert not healthy
    assert "stuck" in why


def test_no_heartbeat_or_garbage_is_unhealthy(tmp_path: Path) -> None:
    assert check(tmp_path / "absent") == (
        False,
        f"no heartbeat at {tmp_path / 'absent'}: the bridge is not running (or still starting)",
    )
    (tmp_path / "garbage").write_text("{")
    assert not check(tmp_path / "garbage")[0]


def read_heartbeat(path: str) -> dict[str, object]:
    heartbeat: dict[str, object] = json.loads(Path(path).read_text())
    return heartbeat


async def health_command(health_file: str) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer.health",
        env={**os.environ, "HEALTH_FILE": health_file, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.DEVNULL,
    )
    return await process.wait()


async def test_the_health_command_passes_while_the_bridge_runs_and_fails_after(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name)
    local_lambda.add_function(FunctionSpec(FUNCTION, lambda event, context: None))
    env = bridge_environment(
        kafka, local_lambda.url, topic_name, f"g-{uuid.uuid4().hex}", health_interval_seconds=1
    )
    async with running_bridge(env) as running:
        await running.bridge.ready.wait()
        assert "records_delivered" in read_heartbeat(env["HEALTH_FILE"])
        assert await health_command(env["HEALTH_FILE"]) == 0
        await running.stopped()
    assert await health_command(env["HEALTH_FILE"]) == 1


def heartbeat_at(tmp_path: Path, **fields: object) -> Path:
    path = tmp_path / "health"
    write_heartbeat(path, {"interval_s": 5, "stall_alarm_s": 60, **fields})
    return path


def test_no_progress_with_lag_and_nothing_in_flight_is_wedged(tmp_path: Path) -> None:
    path = heartbeat_at(tmp_path, lag=40, in_flight=0, last_progress_at=time.time() - 61)
    healthy, why = check(path)
    assert not healthy
    assert why.startswith("wedged")


def test_a_long_invocation_in_flight_is_not_wedged(tmp_path: Path) -> None:
    path = heartbeat_at(tmp_path, lag=40, in_flight=1, last_progress_at=time.time() - 890)
    assert check(path)[0]


def test_no_progress_without_lag_is_just_quiet(tmp_path: Path) -> None:
    path = heartbeat_at(tmp_path, lag=0, in_flight=0, last_progress_at=time.time() - 3600)
    assert check(path)[0]


async def test_the_health_command_passes_during_an_invocation_longer_than_the_stall_alarm(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name)
    await kafka.produce(topic_name, [TestRecord(value=b"slow")])
    local_lambda.add_function(FunctionSpec(FUNCTION, lambda event, context: None, latency_s=60))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        health_interval_seconds=0.1,
        stall_alarm_seconds=0.5,
        shutdown_timeout_seconds=0,
    )

    def in_flight_beyond_the_alarm() -> bool:
        """The heartbeat shows the invocation in flight and no progress for over the alarm."""
        beat = read_heartbeat(env["HEALTH_FILE"]) if Path(env["HEALTH_FILE"]).exists() else {}
        return (
            bool(beat)
            and beat["in_flight"] == 1
            and float(beat["written_at"]) - float(beat["last_progress_at"]) > 0.5
        )

    async with running_bridge(env) as running:
        await until(in_flight_beyond_the_alarm)
        assert await health_command(env["HEALTH_FILE"]) == 0
        await running.stopped()
