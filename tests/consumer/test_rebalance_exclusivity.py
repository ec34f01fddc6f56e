"""Across rebalances, no key is in two invocations at once: a revoke stops invoking at once
(a retry waiting out its backoff gives up) and waits for the invocations in flight until
Lambda has ended them, however long past REVOKE_TIMEOUT_MS that is."""

from __future__ import annotations

import base64
import itertools
import logging
import signal
import time
import uuid
from collections import defaultdict
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
        revoke_timeout_ms=500,  # what the wait used to be: five times shorter than a call
        batch_size=5,
        max_in_flight_per_partition=3,
    )

    async with running_bridge(env) as first:
        await local_lambda.record.wait_until_async(
            lambda record: record.in_flight(FUNCTION) >= PARTITIONS, timeout_s=60
        )
        assert first.bridge.revoke_wait_s == FUNCTION_TIMEOUT_S + 5
        async with running_bridge(env) as second:  # joining: every partition is revoked
            await until(lambda: second.bridge.counters.records_delivered > 0, timeout_s=90)
            await second.stopped(timeout_s=90)  # leaving: revoked again
        await wait_for_deliveries(local_lambda, sink, len(produced), timeout_s=180)
        await first.stopped(timeout_s=90)

    assert overlapping_pairs(local_lambda.record.invocations(FUNCTION)) == []
    assert_all_delivered(produced, sink.delivered)
    assert_key_order(sink.delivered)


async def test_a_batch_waiting_out_its_backoff_does_not_hold_up_a_rebalance(
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
    )
    caplog.set_level(logging.INFO, logger="consumer.bridge")
    async with running_bridge(env) as first:
        await until(lambda: first.bridge.counters.retries >= 1)
        async with running_bridge(env) as second:
            # Joining revokes the partition from the first, whose only batch is asleep.
            revoked = await _first_revocation(caplog)
            await second.stopped(timeout_s=90)
        await first.stopped(timeout_s=90)

    assert revoked["drain_s"] < 2.0, revoked


async def _first_revocation(caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    """The first "partitions revoked" line's fields once the bridge has logged it."""

    def logged() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.getMessage() == "partitions revoked"]

    await until(lambda: bool(logged()), timeout_s=90)
    fields: dict[str, Any] = logged()[0].fields  # type: ignore[attr-defined]
    return fields


async def test_a_sigterm_during_a_rebalance_stops_within_the_shutdown_timeout(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    """Two bridges share the partitions, each with long invocations in flight, when a third
    joins: both wait for their invocations before rejoining. A SIGTERM to one of them then
    must not wait for the group (that is, for the other's invocations) past its budget."""
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
            "partitions assigned", lambda fields: len(fields["partitions"]) == 2
        )
        await until(lambda: len(second.bridge.high_waters()) == 2, timeout_s=60)
        produced = await kafka.produce(
            topic_name,
            [TestRecord(key=f"k{i}".encode(), value=b"1", partition=i) for i in range(4)],
        )
        await local_lambda.record.wait_until_async(  # one invocation per partition
            lambda record: record.in_flight(FUNCTION) == len(produced), timeout_s=60
        )
        async with running_bridge(env) as third:  # joining: both wait for their invocations
            revoking = await said.until(
                "revoking partitions: waiting for their invocations in flight"
            )
            assert revoking["at_most_s"] == 20.0  # the function's 15 s timeout and 5 s
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
