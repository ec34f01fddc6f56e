"""Shaped like the replaced system: poll up to 500 records, send them all in one invoke that
nobody awaits, commit at once.

Fast, and unsafe: the offsets are committed before the function has the records, so an
invoke that fails (throttled past the SDK's retries, 5xx, over the payload limit) loses them
— it is only logged. Its invokes are not bounded either: each poll adds one in flight.

The replaced Java bridge used the AWS SDK v2 async client with its default retries (3 for
throttling and 5xx); botocore's `standard` mode with 4 attempts is the same policy.

    python -m benchmarks.baselines.fire_and_forget   # with the bridge's environment variables
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import aioboto3
from aiobotocore.config import AioConfig
from aiokafka import AIOKafkaConsumer
from botocore.exceptions import BotoCoreError, ClientError

from benchmarks.baselines.running import run_until_signalled
from consumer.kafka.connection import consumer_arguments
from consumer.payloads.encoders import LegacyEncoder
from consumer.settings.model import BridgeSettings

MAX_POLL_RECORDS = 500  # the replaced system's KAFKA_MAX_POLL_RECORDS
SDK_MAX_ATTEMPTS = 4  # the AWS SDK's default: the first try and 3 retries
POLL_TIMEOUT_MS = 1000

log = logging.getLogger("benchmarks.fire_and_forget")


async def invoke_and_forget(client: Any, function_name: str, payload: bytes) -> None:
    try:
        response = await client.invoke(FunctionName=function_name, Payload=payload)
        await response["Payload"].read()
    except (ClientError, BotoCoreError, OSError) as error:
        log.warning("invoke failed; its records are lost", extra={"fields": {"error": str(error)}})


async def poll_invoke_commit(settings: BridgeSettings) -> None:
    encoder = LegacyEncoder()
    config = AioConfig(
        retries={"total_max_attempts": SDK_MAX_ATTEMPTS, "mode": "standard"},
        max_pool_connections=10_000,  # the Java bridge opened a new client per batch
        read_timeout=settings.lambda_read_timeout_seconds,
    )
    session = aioboto3.Session()
    outstanding: set[asyncio.Task[None]] = set()
    consumer = AIOKafkaConsumer(*settings.kafka_topic or [], **consumer_arguments(settings))
    async with session.client(
        "lambda",
        region_name=settings.aws_region,
        endpoint_url=settings.lambda_endpoint_url,
        config=config,
    ) as client:
        await consumer.start()
        try:
            while True:
                fetched = await consumer.getmany(
                    timeout_ms=POLL_TIMEOUT_MS, max_records=MAX_POLL_RECORDS
                )
                records = [record for batch in fetched.values() for record in batch]
                if not records:
                    continue
                payload = encoder.assemble(
                    records[0].topic,
                    records[0].partition,
                    [encoder.encode_record(record) for record in records],
                )
                task = asyncio.create_task(
                    invoke_and_forget(client, settings.lambda_function_name, payload)
                )
                outstanding.add(task)
                task.add_done_callback(outstanding.discard)
                await consumer.commit()  # everything polled, delivered or not
        finally:
            await consumer.stop()
            # Stopped: the invokes already sent get to finish, retries included, so a record
            # counts as lost only if the SDK's retries could not deliver it.
            await asyncio.gather(*outstanding, return_exceptions=True)


if __name__ == "__main__":
    sys.exit(run_until_signalled(poll_invoke_commit))
