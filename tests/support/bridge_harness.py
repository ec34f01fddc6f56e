"""Running the bridge against the test broker and the local Lambda, and reading what the
function received.

`RecordingSink` is a real handler for the local Lambda: it decodes each native-format
event and keeps what arrived, in arrival order, so tests assert on delivery, order and
duplicates from the function's point of view.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import sys
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consumer.aws_lambda.invoker import LambdaInvoker
from consumer.bridge import Bridge
from consumer.local import LocalLambda
from consumer.settings.model import load_settings
from tests.support.kafka_records import KafkaTestClient, Produced

FUNCTION = "sink"
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Delivered:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    topic: str = ""


class RecordingSink:
    """A Lambda handler that keeps every record it is given (native payload format)."""

    def __init__(self, fail_offsets: Callable[[Delivered], bool] | None = None) -> None:
        self._lock = threading.Lock()
        self._delivered: list[Delivered] = []
        self._fail = fail_offsets

    def __call__(self, event: dict[str, Any], context: object) -> dict[str, Any]:
        batch = [
            Delivered(
                partition=record["partition"],
                offset=record["offset"],
                key=base64.b64decode(record["key"]) if "key" in record else None,
                value=base64.b64decode(record["value"]) if "value" in record else None,
                topic=record["topic"],
            )
            for records in event["records"].values()
            for record in records
        ]
        # Like a careful function: a failed record is reported, and the later records of
        # its key are left unprocessed (and unreported: the bridge must retry them anyway).
        failed: list[Delivered] = []
        failed_keys: set[bytes | None] = set()
        processed: list[Delivered] = []
        for record in batch:
            if record.key is not None and record.key in failed_keys:
                continue
            if self._fail is not None and self._fail(record):
                failed.append(record)
                failed_keys.add(record.key)
            else:
                processed.append(record)
        with self._lock:
            self._delivered.extend(processed)
        return {"batchItemFailures": [{"itemIdentifier": str(d.offset)} for d in failed]}

    @property
    def delivered(self) -> list[Delivered]:
        with self._lock:
            return list(self._delivered)

    def distinct_count(self) -> int:
        with self._lock:
            return len({(d.topic, d.partition, d.offset) for d in self._delivered})


def assert_all_delivered(produced: list[Produced], delivered: list[Delivered]) -> None:
    got = {(d.partition, d.offset) for d in delivered}
    missing = [(p.partition, p.offset) for p in produced if (p.partition, p.offset) not in got]
    assert not missing, f"{len(missing)} records never reached the function, e.g. {missing[:5]}"
    values = {(d.partition, d.offset): d.value for d in delivered}
    for p in produced:
        assert values[(p.partition, p.offset)] == p.record.value, "delivered a different value"


def assert_key_order(delivered: list[Delivered]) -> None:
    """Per partition and key, first deliveries arrive in offset order (redeliveries may repeat
    a prefix after a restart, but never go back past a record not yet delivered once)."""
    seen: set[tuple[int, int]] = set()
    highest_first: dict[tuple[int, bytes | None], int] = {}
    for d in delivered:
        if d.key is None or (d.partition, d.offset) in seen:
            continue
        seen.add((d.partition, d.offset))
        stream = (d.partition, d.key)
        assert d.offset > highest_first.get(stream, -1), (
            f"key {d.key!r} of partition {d.partition}: offset {d.offset} arrived after "
            f"{highest_first[stream]}"
        )
        highest_first[stream] = d.offset


def duplicates(delivered: list[Delivered]) -> Counter[tuple[int, int]]:
    counts = Counter((d.partition, d.offset) for d in delivered)
    return Counter({k: n for k, n in counts.items() if n > 1})


def bridge_environment(
    kafka: KafkaTestClient, lambda_url: str, topic: str, group: str, **overrides: Any
) -> dict[str, str]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_GROUP_ID": group,
        "LAMBDA_FUNCTION_NAME": FUNCTION,
        "LAMBDA_ENDPOINT_URL": lambda_url,
        "AWS_REGION": "us-east-1",
        "COMMIT_INTERVAL_MS": "200",
        "KAFKA_PROPERTIES": '{"session_timeout_ms": 6000, "heartbeat_interval_ms": 500}',
        # Bridges of concurrent tests must not share a heartbeat file.
        "HEALTH_FILE": str(Path(tempfile.gettempdir()) / f"k2l-{uuid.uuid4().hex}.health"),
    }
    env.update({name.upper(): str(value) for name, value in overrides.items()})
    return env


class RunningBridge:
    def __init__(self, bridge: Bridge, stop: asyncio.Event, task: asyncio.Task[None]) -> None:
        self.bridge = bridge
        self.stop = stop
        self.task = task

    async def stopped(self, timeout_s: float = 60) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout_s)


@contextlib.asynccontextmanager
async def running_bridge(env: Mapping[str, str]) -> AsyncIterator[RunningBridge]:
    """The bridge in this process and loop; stopped (drained) on exit if still running."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    settings = load_settings(env)
    stop = asyncio.Event()
    async with LambdaInvoker(settings) as invoker:
        bridge = Bridge(settings, invoker)
        task = asyncio.create_task(bridge.run(stop))
        running = RunningBridge(bridge, stop, task)
        try:
            yield running
        finally:
            if not task.done():
                await running.stopped()


async def bridge_process(
    env: Mapping[str, str], module: tuple[str, ...] = ("consumer",)
) -> asyncio.subprocess.Process:
    """`python -m consumer` (or `module` and its arguments) as a child process with exactly
    `env` (plus PATH and AWS keys)."""
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "PYTHONPATH": str(REPO),
        **env,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *module,
        env=full_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def wait_for_deliveries(
    local_lambda: LocalLambda, sink: RecordingSink, count: int, timeout_s: float = 120
) -> None:
    await local_lambda.record.wait_until_async(
        lambda _: sink.distinct_count() >= count, timeout_s=timeout_s
    )


async def until(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    """Waits for a condition inside the bridge (a counter) that no event announces."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(0.01)


async def run_to_exit(
    env: dict[str, str], timeout_s: float = 60
) -> tuple[int, list[dict[str, Any]]]:
    """`python -m consumer` run to its end: the exit code and its log lines (not metrics)."""
    process = await bridge_process(env)
    output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    lines = output.decode().splitlines()
    assert all(line.startswith("{") for line in lines), f"not one JSON object per line: {lines}"
    assert process.returncode is not None
    objects = [json.loads(line) for line in lines]
    return process.returncode, [line for line in objects if "_aws" not in line]  # not metrics


def the_error(lines: list[dict[str, Any]]) -> str:
    """The one error line of a failed run; there is no traceback."""
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1, f"expected one error line, got {errors}"
    assert "Traceback" not in json.dumps(lines)
    message: str = errors[0]["message"]
    return message
