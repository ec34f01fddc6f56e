"""Membership changes stop only what moves: on the real broker, with slow functions.

Partitions stay with their member (sticky assignment); a revoke does not wait; a partition
that moves waits for its previous owner's lease — renewed ahead of every invocation, so it
also covers a SIGKILLed owner — or for that owner's release; records done above the committed
offset are not delivered again; and no key is ever in two invocations at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer

from consumer.local import FunctionSpec, LocalLambda
from consumer.local.invocations import Invocation
from consumer.ownership import handover
from tests.consumer.test_rebalance_exclusivity import overlapping_pairs
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
from tests.support.kafka_records import Produced, TestRecord


class Said(logging.Handler):
    """The bridge's log lines in this process, each with time.monotonic() when said (the
    local Lambda times invocations on the same clock)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[float, str, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((time.monotonic(), record.getMessage(), getattr(record, "fields", {})))

    def said(self, message: str) -> list[tuple[float, dict[str, Any]]]:
        return [(at, fields) for at, said, fields in self.lines if said == message]


@contextmanager
def said_by_bridges() -> Iterator[Said]:
    handler = Said()
    logger = logging.getLogger("consumer.bridge")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def partitions_of(invocation: Invocation) -> set[int]:
    """The partitions of an invocation's records (none for the start-up's DryRun)."""
    event = invocation.event if isinstance(invocation.event, dict) else {}
    return {int(name.rsplit("-", 1)[1]) for name in event.get("records", {})}


def keyed_records(count: int, keys: int, partitions: int) -> list[TestRecord]:
    """`count` records of `keys` keys, each key on one partition, every partition used."""
    return [
        TestRecord(
            key=f"k{i % keys}".encode(), value=str(i).encode(), partition=i % keys % partitions
        )
        for i in range(count)
    ]


async def test_members_joining_and_leaving_move_only_what_they_must_and_never_run_a_key_twice(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    """1 → 2 → 3 → 2 → 1 members with a slow function: the partitions that stay with their
    member go on delivering through the rebalance, without waiting for what is in flight."""
    await kafka.create_topic(topic_name, partitions=6)
    produced = await kafka.produce(topic_name, keyed_records(600, keys=60, partitions=6))
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=2.0, timeout_s=4.0))
    env = bridge_environment(
        kafka, local_lambda.url, topic_name, f"g-{uuid.uuid4().hex}", batch_size=3
    )
    record = local_lambda.record

    with said_by_bridges() as said:
        async with running_bridge(env) as first:
            await record.wait_until_async(lambda r: r.in_flight(FUNCTION) >= 6, timeout_s=60)
            async with running_bridge(env) as second:
                await until(lambda: second.bridge.counters.records_delivered > 0, timeout_s=90)
                async with running_bridge(env) as third:
                    await until(lambda: third.bridge.counters.records_delivered > 0, 90)
                await until(lambda: second.bridge.counters.records_delivered > 30, 90)
            await wait_for_deliveries(local_lambda, sink, len(produced), timeout_s=180)
            await first.stopped(timeout_s=90)

    invocations = record.invocations(FUNCTION)
    assert overlapping_pairs(invocations) == []
    assert_all_delivered(produced, sink.delivered)
    assert_key_order(sink.delivered)
    # The second member's arrival: the first kept 3 of its 6 partitions, and had its new
    # assignment while invocations of them, started before the rebalance, still ran.
    assigned_at, fields = next(
        (at, fields) for at, fields in said.said("partitions assigned") if fields["kept"]
    )
    revoked_at = max(
        at for at, fields in said.said("rebalancing") if fields["partitions"] and at < assigned_at
    )
    assert fields["kept"] == 3
    assert len(fields["lost"]) == 3
    kept = set(range(6)) - {int(name.rsplit("-", 1)[1]) for name in fields["lost"]}
    running_through = [
        i
        for i in invocations
        if partitions_of(i) & kept and i.started_at < revoked_at and i.ended_at > assigned_at
    ]
    assert running_through, "the rebalance waited for the kept partitions' invocations"


async def test_a_sigkilled_members_partitions_wait_for_its_lease_then_deliver(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    """Killed with an invocation in flight on every partition: the next owner starts none of
    their keys until the killed member's invocations can no longer be running."""
    await kafka.create_topic(topic_name, partitions=3)
    produced = await kafka.produce(topic_name, keyed_records(30, keys=9, partitions=3))
    sink = RecordingSink()
    # Far longer than the group takes to notice the death (the session timeout, 6 s here).
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=10.0, timeout_s=12.0))
    env = bridge_environment(
        kafka, local_lambda.url, topic_name, f"g-{uuid.uuid4().hex}", batch_size=2
    )
    record = local_lambda.record
    doomed = await bridge_process(env)
    try:
        await record.wait_until_async(lambda r: r.in_flight(FUNCTION) >= 3, timeout_s=90)
    finally:
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
    killed_at = time.monotonic()

    async with running_bridge(env) as heir:
        await wait_for_deliveries(local_lambda, sink, len(produced), timeout_s=180)
        waits = heir.bridge.counters.lease_waits
        await heir.stopped()

    invocations = record.invocations(FUNCTION)
    assert overlapping_pairs(invocations) == []
    assert [i for i in invocations if i.started_at < killed_at < i.ended_at], "none in flight"
    assert waits >= 1
    assert_all_delivered(produced, sink.delivered)


async def test_a_member_killed_with_nothing_in_flight_hands_its_partitions_over_at_once(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=3)
    first_records = await kafka.produce(topic_name, keyed_records(30, keys=9, partitions=3))
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=0.5, timeout_s=30.0))
    group = f"g-{uuid.uuid4().hex}"
    env = bridge_environment(kafka, local_lambda.url, topic_name, group)
    doomed = await bridge_process(env)
    try:
        await wait_for_deliveries(local_lambda, sink, len(first_records), timeout_s=90)

        async def released() -> bool:  # every partition's last commit says: nothing running
            metadata = await kafka.committed_metadata(group, topic_name)
            return len(metadata) == 3 and all(
                handover.decode(text, 0).lease_until_ms is None for text in metadata.values()
            )

        deadline = time.monotonic() + 60
        while not await released():  # the broker announces no commit: ask it again
            assert time.monotonic() < deadline, "the idle member's leases were never shrunk"
            await asyncio.sleep(0.2)
    finally:
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()

    async with running_bridge(env) as heir:
        later = await kafka.produce(topic_name, keyed_records(30, keys=9, partitions=3))
        await wait_for_deliveries(local_lambda, sink, len(first_records) + len(later), 120)
        waits = heir.bridge.counters.lease_waits
        await heir.stopped()

    assert waits == 0
    assert_all_delivered(first_records + later, sink.delivered)


async def test_a_rolling_deployment_from_round_robin_members_loses_nothing(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    """A member of an earlier version (aiokafka's round-robin assignor, "" as metadata) and a
    new bridge in one group: no InconsistentGroupProtocol, every record delivered by one of
    them, then the new one takes everything when the old one leaves."""
    await kafka.create_topic(topic_name, partitions=4)
    produced = await kafka.produce(topic_name, keyed_records(200, keys=20, partitions=4))
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=0.05))
    group = f"g-{uuid.uuid4().hex}"
    env = bridge_environment(kafka, local_lambda.url, topic_name, group)
    old = AIOKafkaConsumer(
        topic_name,
        bootstrap_servers=kafka.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    await old.start()
    by_old: set[tuple[int, int]] = set()
    stopped = False
    try:
        async with running_bridge(env) as new:
            while len(old.assignment()) != 2:  # the new member took two
                for partition, records in (await old.getmany(timeout_ms=200)).items():
                    by_old.update((partition.partition, r.offset) for r in records)
                    await old.commit()  # as an earlier bridge does: offsets, "" as metadata
            assert not new.task.done()
            await old.commit()
            await old.stop()  # leaves: the new member takes all four
            stopped = True
            later = await kafka.produce(topic_name, keyed_records(40, keys=20, partitions=4))
            everything = {(p.partition, p.offset) for p in produced}
            await until(
                lambda: everything <= by_old | {(d.partition, d.offset) for d in sink.delivered},
                timeout_s=120,
            )
            written_later = {(p.partition, p.offset) for p in later}
            await until(  # all four partitions, by the new member
                lambda: written_later <= {(d.partition, d.offset) for d in sink.delivered},
                timeout_s=120,
            )
        assert_all_delivered(later, sink.delivered)
    finally:
        if not stopped:
            await old.stop()


async def test_clocks_apart_by_less_than_the_margin_never_run_a_key_twice(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    """A member whose clock is 18 s behind writes leases that end 18 s early in true time;
    with a 20 s margin its partitions' next owner still waits until its invocations ended."""
    invocations, produced, sink = await _heir_of_a_member_18_s_behind(
        kafka, local_lambda, topic_name, partitions=2, latency_s=10.0, margin_ms=20_000
    )
    assert overlapping_pairs(invocations) == []
    assert_all_delivered(produced, sink.delivered)


async def test_without_the_margin_the_same_skew_would_overlap(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    """The test above can fail: with no margin, the behind clock's lease ends while its
    invocations still run, and the next owner starts their keys."""
    invocations, _, _ = await _heir_of_a_member_18_s_behind(
        kafka, local_lambda, topic_name, partitions=1, latency_s=11.5, margin_ms=0
    )
    pairs = overlapping_pairs(invocations)
    assert pairs, "no overlap: the skew test above proves nothing"
    assert {key for key, _, _ in pairs} <= {b"k0", b"k1"}  # the keys in flight at the kill


async def _heir_of_a_member_18_s_behind(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic: str,
    *,
    partitions: int,
    latency_s: float,
    margin_ms: int,
) -> tuple[list[Invocation], list[Produced], RecordingSink]:
    """Four records a partition, two of a key; a member whose clock is 18 s behind is
    SIGKILLed with one invocation in flight on each partition, and an heir delivers them all.
    Returns every invocation, what was produced and what the function received."""
    await kafka.create_topic(topic, partitions=partitions)
    keys = 2 * partitions
    produced = await kafka.produce(topic, keyed_records(4 * partitions, keys, partitions))
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=latency_s, timeout_s=12.0))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic,
        f"g-{uuid.uuid4().hex}",
        batch_size=1,
        clock_skew_margin_ms=margin_ms,
    )
    record = local_lambda.record
    doomed = await bridge_process(env, module=("tests.support.skewed_bridge", "-18"))
    try:
        await record.wait_until_async(lambda r: r.in_flight(FUNCTION) >= partitions, timeout_s=90)
    finally:
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()

    async with running_bridge(env) as heir:
        await wait_for_deliveries(local_lambda, sink, len(produced), timeout_s=180)
        await heir.stopped()
    return record.invocations(FUNCTION), produced, sink
