"""Across rebalances, no key is in two invocations at once: a partition that moves starts no
invocation once it is let go (a retry waiting out its backoff gives up), and its next owner
starts none before the previous owner's invocations have ended or could no longer be
running, however long past REVOKE_TIMEOUT_MS that is. tests/consumer/test_membership_changes.py
has the crashes, the skewed clocks and the rolling deployment."""

from __future__ import annotations

import base64
import itertools
import logging
import signal
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from consumer.local import FunctionSpec, LocalLambda, Outcome
from consumer.local.invocations import Invocation
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    assert_all_delivered,
    assert_key_order,
    bridge_environment,
    bridge_process,
    running_bridge,
    until,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord
from tests.support.log_lines import LogLines

PARTITIONS = 4
LATENCY_S = 2.5  # each invocation; far above the revoke timeout below
FUNCTION_TIMEOUT_S = 4.0  # what GetFunctionConfiguration answers: the revoke waits 4 + 5 s


def keys_of(invocation: Invocation) -> set[bytes]:
    return {
        base64.b64decode(record["key"])
        for records in invocation.event["records"].values()
        for record in records
        if "key" in record
    }


def overlapping_pairs(invocations: list[Invocation]) -> list[tuple[bytes, float, float]]:
    """(key, start, start) of every two invocations of one key that ran at the same time."""
    by_key: dict[bytes, list[Invocation]] = defaultdict(list)
    for invocation in invocations:
        if invocation.outcome in (Outcome.OK, Outcome.FUNCTION_ERROR, Outcome.TIMEOUT):
            for key in keys_of(invocation):
                by_key[key].append(invocation)
    pairs = []
    for key, runs in by_key.items():
        runs.sort(key=lambda run: run.started_at)
        for earlier, later in itertools.pairwise(runs):
            if later.started_at < earlier.ended_at:
                pairs.append((key, earlier.started_at, later.started_at))
    return pairs


async def test_a_second_bridge_joining_and_leaving_never_runs_a_key_twice_at_once(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=PARTITIONS)
    produced = await kafka.produce(
        topic_name, [TestRecord(key=f"k{i % 24}".encode(), value=b"1") for i in range(240)]
    )
    sink = RecordingSink()
    local_lambda.add_function(
        FunctionSpec(FUNCTION, sink, latency_s=LATENCY_S, timeout_s=FUNCTION_TIMEOUT_S)
    )
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        revoke_timeout_ms=500,  # an invocation's lease if the timeout were unknown: too short
        batch_size=5,
        max_in_flight_per_partition=3,
    )

    async with running_bridge(env) as first:
        await local_lambda.record.wait_until_async(
            lambda record: record.in_flight(FUNCTION) >= PARTITIONS, timeout_s=60
        )
        assert first.bridge.invocation_lease_s == FUNCTION_TIMEOUT_S + 5
        async with running_bridge(env) as second:  # joining: every partition is revoked
            await until(lambda: second.bridge.counters.records_delivered > 0, timeout_s=90)
            await second.stopped(timeout_s=90)  # leaving: revoked again
        await wait_for_deliveries(local_lambda, sink, len(produced), timeout_s=180)
        await first.stopped(timeout_s=90)

    assert overlapping_pairs(local_lambda.record.invocations(FUNCTION)) == []
    assert_all_delivered(produced, sink.delivered)
    assert_key_order(sink.delivered)


async def test_a_batch_waiting_out_its_backoff_holds_up_neither_a_rebalance_nor_a_handover(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await kafka.create_topic(topic_name, partitions=1)
    await kafka.produce(topic_name, [TestRecord(key=b"k", value=b"1")])

    def always_fails(event: Any) -> bool:
        return True

    local_lambda.add_function(FunctionSpec(FUNCTION, RecordingSink(), fail_when=always_fails))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        # Retries far apart: after its first failure the batch sleeps for up to a minute.
        retry_backoff_base_ms=60_000,
        retry_backoff_max_ms=60_000,
        function_error_backoff_max_ms=60_000,
        revoke_timeout_ms=30_000,
        shutdown_timeout_seconds=2,
    )
    caplog.set_level(logging.INFO, logger="consumer.bridge")
    async with running_bridge(env) as first:
        await until(lambda: first.bridge.counters.retries >= 1)
        async with running_bridge(env) as second:
            # Joining: a rebalance while the first's only batch is asleep; one partition,
            # so it stays with the first.
            kept = await _assignment(caplog, lambda fields: fields["kept"] == 1)
            await second.stopped(timeout_s=90)
        await first.stopped(timeout_s=90)
    # Stopped, the first leaves no lease: nothing of the partition was running at Lambda.
    caplog.clear()
    async with running_bridge(env) as heir:
        taken = await _assignment(caplog, lambda fields: bool(fields["arrived"]))
        await heir.stopped(timeout_s=90)

    assert kept["rebalance_s"] < 2.0, kept
    assert taken["waiting"] == [], taken


async def _assignment(
    caplog: pytest.LogCaptureFixture, matches: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    return await _logged(caplog, "partitions assigned", matches)


async def _logged(
    caplog: pytest.LogCaptureFixture, message: str, matches: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The fields of the first `message` line that `matches`, once the bridge has logged it."""

    def logged() -> list[dict[str, Any]]:
        return [
            r.fields  # type: ignore[attr-defined]
            for r in caplog.records
            if r.getMessage() == message and matches(r.fields)  # type: ignore[attr-defined]
        ]

    await until(lambda: bool(logged()), timeout_s=90)
    return logged()[0]


async def test_a_sigterm_during_a_rebalance_stops_within_the_shutdown_timeout(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    """Two bridges share the partitions, each with long invocations in flight, when a third
    joins. A SIGTERM to one of them during that rebalance must not wait for the group (nor
    for its own invocations) past its budget."""
    shutdown_s = 3
    await kafka.create_topic(topic_name, partitions=4)
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=12.0, timeout_s=15.0))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        shutdown_timeout_seconds=shutdown_s,
        log_level="INFO",
    )
    first = await bridge_process(env)
    said = LogLines(first)
    async with running_bridge(env) as second:
        # The group of two settles before any record exists: no long wait in forming it.
        await said.until_fields(
            "partitions assigned", lambda fields: fields["kept"] + len(fields["arrived"]) == 2
        )
        await until(lambda: len(second.bridge.high_waters()) == 2, timeout_s=60)
        produced = await kafka.produce(
            topic_name,
            [TestRecord(key=f"k{i}".encode(), value=b"1", partition=i) for i in range(4)],
        )
        await local_lambda.record.wait_until_async(  # one invocation per partition
            lambda record: record.in_flight(FUNCTION) == len(produced), timeout_s=60
        )
        async with running_bridge(env) as third:  # joining: a rebalance
            await said.until_fields("rebalancing", lambda fields: fields["partitions"] == 2)
            signalled = time.monotonic()
            first.send_signal(signal.SIGTERM)
            await said.finish()
            took_s = time.monotonic() - signalled
            await wait_for_deliveries(local_lambda, sink, len(produced), timeout_s=120)
            await third.stopped(timeout_s=90)
        await second.stopped(timeout_s=90)

    assert first.returncode == 0, said.text()
    assert took_s < shutdown_s + 1, said.text()
    assert_all_delivered(produced, sink.delivered)
    # aiokafka's warning at each heartbeat of a rebalance (twice a second) is left out.
    assert not [line for line in said.lines if "because it is rebalancing" in line["message"]]
