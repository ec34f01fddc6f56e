"""The heartbeat the event loop writes and the health command that reads it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path

from consumer.health import check, write_heartbeat
from consumer.local import FunctionSpec, LocalLambda
from tests.support.bridge_harness import FUNCTION, REPO, bridge_environment, running_bridge
from tests.support.kafka_fixtures import KafkaUnderTest


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
