"""Producing answers (RESPONSE_TOPIC) and function errors (ERROR_TOPIC) to Kafka.

An answer counts as produced once every in-sync replica of the answer topic has it
(acks=all); the producer is idempotent, so its own retries cannot reorder or repeat what one
`produce` sent. The caller (consumer/pipeline/delivery.py) retries a failed `produce` and
commits nothing of the invocation's records until it succeeds. An error record is produced
best effort: a bounded wait, then it is counted and given up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from consumer.answers.records import AnswerRecord
from consumer.errors import KafkaStartupError
from consumer.kafka.connection import client_arguments
from consumer.settings.answers import AnswerTopic, parse_answer_topic
from consumer.settings.lambda_limits import LAMBDA_REQUEST_RESPONSE_MAX_BYTES
from consumer.settings.model import BridgeSettings

# An error record waits at most this long for the broker, so the retry it comes with is not
# held up for long by an error topic that is down.
ERROR_PRODUCE_TIMEOUT_S = 10.0
# Room for an answer of Lambda's largest size, with its headers and the batch's framing.
_MAX_REQUEST_BYTES = LAMBDA_REQUEST_RESPONSE_MAX_BYTES + 64 * 1024
_BATCH_BYTES = 256 * 1024


class TopicProducer:
    """Produces records to one topic, in the order given.

    Invariant: `produce` returns only once the broker acknowledged (acks=all) every record
    it was given, and raises otherwise; records of one call go to their partitions in the
    order given (the key's partition by Kafka's default partitioner, murmur2 as Java's), so
    records with one key reach their partition in that order.

    Why batches of our own rather than one `send` per record: a `send` costs a coroutine and
    a future per record, about half of what an answer costs the bridge; a batch per
    partition (aiokafka's `send_batch`) costs them once per partition and answer.
    """

    def __init__(self, producer: AIOKafkaProducer, topic: AnswerTopic) -> None:
        self._producer = producer
        self._topic = topic.topic
        self._partitioner = DefaultPartitioner()
        self.description = topic.description

    async def produce(self, records: Sequence[AnswerRecord]) -> None:
        producer, topic = self._producer, self._topic
        partitions = sorted(await producer.partitions_for(topic))
        by_partition: dict[int, list[AnswerRecord]] = {}
        for record in records:
            partition = self._partitioner(record.key, partitions, partitions)
            by_partition.setdefault(partition, []).append(record)
        sent = []
        for partition, in_order in by_partition.items():
            batch = producer.create_batch()
            for record in in_order:
                if not _append(batch, record):  # full: send it, start the next
                    sent.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    _append(batch, record)  # a batch always takes its first record
            sent.append(await producer.send_batch(batch, topic, partition=partition))
        for delivery in sent:
            await delivery


def _append(batch: BatchBuilder, record: AnswerRecord) -> bool:
    appended = batch.append(
        timestamp=None, key=record.key, value=record.value, headers=record.headers
    )
    return appended is not None


def producer_settings(settings: BridgeSettings, topic: AnswerTopic) -> dict[str, Any]:
    arguments = client_arguments(settings)
    if topic.bootstrap_servers is not None:
        arguments["bootstrap_servers"] = topic.bootstrap_servers
    return {
        **arguments,
        "acks": "all",
        # Retries inside the producer keep each partition's order (needs, on Kafka before
        # 3.0 with ACLs, IdempotentWrite on the cluster; on MSK IAM WriteDataIdempotently).
        "enable_idempotence": True,
        "max_request_size": _MAX_REQUEST_BYTES,
        # An invocation's answers to a partition in one batch or few (aiokafka's is 16 KB).
        "max_batch_size": _BATCH_BYTES,
    }


async def open_topic_producer(
    settings: BridgeSettings, variable: str, location: str, resources: AsyncExitStack
) -> TopicProducer:
    """A started producer for the topic of `variable`, which must exist (never auto-created)."""
    topic = parse_answer_topic(variable, location)
    producer = AIOKafkaProducer(**producer_settings(settings, topic))
    await producer.start()
    resources.push_async_callback(producer.stop)
    # All topics' metadata: a request naming the topic could create it on a broker that
    # creates topics on first use.
    metadata = await producer.client.fetch_all_metadata()
    if topic.topic not in metadata.topics():
        servers = topic.bootstrap_servers or settings.kafka_bootstrap_servers
        raise KafkaStartupError(
            f"{variable}: topic {topic.topic} does not exist on {servers}, or this identity "
            "may not describe it. Create it before starting the bridge (the bridge never "
            f"creates it), or fix {variable}."
        )
    return TopicProducer(producer, topic)


async def produce_within(
    producer: TopicProducer, records: Sequence[AnswerRecord], timeout_s: float
) -> None:
    await asyncio.wait_for(producer.produce(records), timeout_s)
