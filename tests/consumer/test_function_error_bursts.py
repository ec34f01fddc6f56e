"""A burst of function errors is ridden out: retried for RETRY_FUNCTION_ERRORS_FOR_SECONDS,
soon after the function heals, with nothing dead-lettered; a record that fails for good is
dead-lettered once the window is over."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from consumer.local import FunctionSpec, LocalLambda, Outcome
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
from tests.support.kafka_records import TestRecord
from tests.support.poison import POISON, carries_poison

BURST_S = 20.0  # the function fails everything this long after its first invocation
# After healing, each failing batch is tried again within FUNCTION_ERROR_BACKOFF_MAX_MS (2 s
# by default); the margin covers an invocation and the scheduling of a loaded machine.
RECOVERED_WITHIN_S = 5.0


class Burst:
    """`fail_when`: every invocation fails from the first one until BURST_S later."""

    def __init__(self) -> None:
        self.healed_at: float | None = None  # time.monotonic(), as the local Lambda records

    def __call__(self, event: Any) -> bool:
        if self.healed_at is None:
            self.healed_at = time.monotonic() + BURST_S
        return time.monotonic() < self.healed_at


async def test_a_twenty_second_burst_of_errors_dead_letters_nothing_and_heals_in_seconds(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str, tmp_path: Path
) -> None:
    await kafka.create_topic(topic_name, partitions=4)
    produced = await kafka.produce(
        topic_name, [TestRecord(key=f"k{i % 9}".encode(), value=b"1") for i in range(200)]
    )
    sink, burst = RecordingSink(), Burst()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=burst))
    # The defaults, with a dead-letter store that would take what they gave up on.
    env = bridge_environment(
        kafka, local_lambda.url, topic_name, f"g-{uuid.uuid4().hex}", dlq=f"file://{tmp_path}"
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, len(produced), timeout_s=BURST_S + 60)
        await running.stopped()
        counters = running.bridge.counters

    assert burst.healed_at is not None
    invocations = local_lambda.record.invocations(FUNCTION)
    failed = [i for i in invocations if i.outcome is Outcome.FUNCTION_ERROR]
    assert failed, "the function never failed"
    assert max(i.started_at for i in failed) >= burst.healed_at - 2, "failures stopped early"
    assert counters.dead_lettered == 0
    assert dead_letter_files(tmp_path) == []
    assert_all_delivered(produced, sink.delivered)
    last_delivery = max(i.ended_at for i in invocations if i.outcome is Outcome.OK)
    assert last_delivery - burst.healed_at < RECOVERED_WITHIN_S


async def test_a_record_that_always_fails_is_dead_lettered_once_the_window_is_over(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str, tmp_path: Path
) -> None:
    window_s = 3
    await kafka.create_topic(topic_name)
    records = [TestRecord(key=f"k{i}".encode(), value=b"1") for i in range(20)]
    produced = await kafka.produce(topic_name, [*records, TestRecord(key=b"p", value=POISON)])
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        dlq=f"file://{tmp_path}",
        retry_function_errors_for_seconds=window_s,
        function_error_backoff_max_ms=200,
    )
    async with running_bridge(env) as running:
        await until(lambda: running.bridge.counters.dead_lettered == 1, timeout_s=60)
        await wait_for_deliveries(local_lambda, sink, len(records))
        await running.stopped()

    [letter_file] = dead_letter_files(tmp_path)
    letter = json.loads(letter_file.read_text())
    assert letter["record"]["offset"] == produced[-1].offset
    first = _seconds(letter["firstAttemptAt"])
    assert _seconds(letter["lastAttemptAt"]) - first >= window_s
    assert letter["attempts"] > 4, "retried through the window, not MAX_RETRIES (3) times"
    assert_all_delivered(produced[:-1], sink.delivered)


def dead_letter_files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.json"))


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
