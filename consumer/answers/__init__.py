"""The function's answers back into Kafka: what an answer becomes (records.py), producing it
(producer.py), and answering an invocation (answering.py), which the delivery
(consumer/pipeline/delivery.py) does before its records count as done, so before their
offsets are committed."""

from __future__ import annotations

from contextlib import AsyncExitStack

from consumer.answers.answering import Answering
from consumer.answers.producer import TopicProducer, open_topic_producer
from consumer.answers.records import Answer, AnswerRecord, Invocation, answer_records, error_record
from consumer.operations.counters import Counters
from consumer.settings.model import BridgeSettings

__all__ = [
    "Answer",
    "AnswerRecord",
    "Answering",
    "Invocation",
    "TopicProducer",
    "answer_records",
    "error_record",
    "open_answering",
]


async def open_answering(
    settings: BridgeSettings, counters: Counters, resources: AsyncExitStack
) -> Answering:
    """Answering with the producers of RESPONSE_TOPIC and ERROR_TOPIC (those set), closed with
    `resources`."""
    responses = errors = None
    if settings.response_topic is not None:
        responses = await open_topic_producer(
            settings, "RESPONSE_TOPIC", settings.response_topic, resources
        )
    if settings.error_topic is not None:
        errors = await open_topic_producer(settings, "ERROR_TOPIC", settings.error_topic, resources)
    return Answering(settings, counters, responses, errors)
