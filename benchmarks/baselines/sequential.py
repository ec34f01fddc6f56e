"""The obvious safe port: one consumer, one invoke per record awaited, a commit after each.

Safe — a record's offset is committed only after the function returned for it, and a failed
invoke is retried until it succeeds — and slow: one record per function latency.

    python -m benchmarks.baselines.sequential   # with the bridge's environment variables
"""

from __future__ import annotations

import asyncio
import sys

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from benchmarks.baselines.running import run_until_signalled
from consumer.aws_lambda.invoker import LambdaInvoker, Outcome
from consumer.kafka.connection import consumer_arguments
from consumer.payloads.encoders import LegacyEncoder
from consumer.settings.backoff import Backoff
from consumer.settings.model import BridgeSettings


async def deliver_one_by_one(settings: BridgeSettings) -> None:
    encoder = LegacyEncoder()
    backoff = Backoff(settings.retry_backoff_base_ms / 1000, settings.retry_backoff_max_ms / 1000)
    consumer = AIOKafkaConsumer(*settings.kafka_topic or [], **consumer_arguments(settings))
    async with LambdaInvoker(settings) as invoker:
        await consumer.start()
        try:
            async for record in consumer:
                payload = encoder.assemble(
                    record.topic, record.partition, [encoder.encode_record(record)]
                )
                attempt = 0
                while (await invoker.invoke(payload)).outcome is not Outcome.DELIVERED:
                    attempt += 1
                    await asyncio.sleep(backoff.delay_s(attempt))
                partition = TopicPartition(record.topic, record.partition)
                await consumer.commit({partition: record.offset + 1})
        finally:
            await consumer.stop()


if __name__ == "__main__":
    sys.exit(run_until_signalled(deliver_one_by_one))
