"""Brokers that drop a commit's metadata (Tansu, the local mode's broker): no leases and no
done offsets reach the next owner, so a stop delivers what is buffered before it commits, as
before leases, and says why once."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from consumer.local import FunctionSpec, LocalLambda
from consumer.local.tansu import TansuBroker
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    assert_all_delivered,
    bridge_environment,
    duplicates,
    running_bridge,
    until,
    wait_for_deliveries,
)
from tests.support.kafka_records import KafkaTestClient, TestRecord


async def test_a_stop_on_tansu_delivers_its_buffer_so_a_restart_repeats_nothing(
    tmp_path: Path, local_lambda: LocalLambda, caplog: pytest.LogCaptureFixture
) -> None:
    broker = TansuBroker(tmp_path / "tansu.log")
    await broker.start()
    try:
        client = KafkaTestClient(broker.bootstrap)
        await client.create_topic("t", partitions=2)
        produced = await client.produce(
            "t", [TestRecord(key=f"k{i % 13}".encode(), value=b"1") for i in range(300)]
        )
        sink = RecordingSink()
        local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=0.05))
        env = bridge_environment(
            client,
            local_lambda.url,
            "t",
            f"g-{uuid.uuid4().hex}",
            batch_size=2,
            max_in_flight_per_partition=3,
            max_buffered_records_per_partition=40,
        )
        caplog.set_level(logging.WARNING, logger="consumer.bridge")
        async with running_bridge(env) as first:
            await until(lambda: first.bridge.counters.commits >= 1)
            await wait_for_deliveries(local_lambda, sink, 30)
            await first.stopped()
        counters = first.bridge.counters
        assert counters.records_delivered == counters.records_fetched, "stopped undrained"
        assert counters.records_delivered < len(produced), "the stop did not land mid-stream"

        async with running_bridge(env) as second:
            await wait_for_deliveries(local_lambda, sink, len(produced))
            await second.stopped()
    finally:
        broker.stop()

    warned = [r for r in caplog.records if "do not keep a commit's metadata" in r.getMessage()]
    assert len(warned) == 2  # once per bridge
    assert_all_delivered(produced, sink.delivered)
    assert not duplicates(sink.delivered)
