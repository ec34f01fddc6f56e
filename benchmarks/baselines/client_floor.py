"""The Kafka client alone: what reading the topic costs before the bridge does anything.

aiokafka, with the bridge's consumer settings and fetch size, reads the preloaded topic to
its end and commits every COMMIT_INTERVAL_MS, as the bridge does; it invokes nothing. It
is the floor under every contender's CPU per record: no bridge on this client can read a
record for less.

It delivers nothing, so the harness cannot time it by receipts: once it has read every
record it prints one line, `client-floor: {"records": …, "seconds": …, "cpu_s": …}`,
counted from its first fetch to its last (as the harness counts from the first receipt),
and waits to be stopped.

    python -m benchmarks.baselines.client_floor   # with the bridge's environment variables
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from benchmarks.baselines.running import run_until_signalled
from consumer.kafka.connection import consumer_arguments
from consumer.settings.model import BridgeSettings

REPORT_PREFIX = "client-floor: "
FETCH_WAIT_MS = 500  # the bridge's


async def read_to_the_end(settings: BridgeSettings) -> None:
    consumer = AIOKafkaConsumer(*settings.kafka_topic or [], **consumer_arguments(settings))
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = {}
        reached: dict[TopicPartition, int] = {}
        read = 0
        started: tuple[float, float] | None = None  # (monotonic, CPU) after the first fetch
        committed_at = 0.0
        while not ends or any(reached.get(tp, 0) < end for tp, end in ends.items()):
            fetched = await consumer.getmany(
                timeout_ms=FETCH_WAIT_MS,
                max_records=settings.max_buffered_records_per_partition,
            )
            if not fetched:
                continue
            if started is None:  # the group has joined: every partition is this reader's
                started = (time.monotonic(), time.process_time())
                ends = await consumer.end_offsets(list(consumer.assignment()))
            else:
                read += sum(len(records) for records in fetched.values())
            for partition, records in fetched.items():
                reached[partition] = records[-1].offset + 1
            if time.monotonic() - committed_at >= settings.commit_interval_ms / 1000:
                await consumer.commit()
                committed_at = time.monotonic()
        await consumer.commit()
        assert started is not None
        report = {
            "records": read,
            "seconds": time.monotonic() - started[0],
            "cpu_s": time.process_time() - started[1],
        }
        print(REPORT_PREFIX + json.dumps(report), flush=True)
        await asyncio.Event().wait()  # until stopped, like the others
    finally:
        await consumer.stop()


if __name__ == "__main__":
    sys.exit(run_until_signalled(read_to_the_end))
