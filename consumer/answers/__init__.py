"""The function's answers back into Kafka: what an answer becomes (records.py) and producing
it (producer.py); delivery (consumer/pipeline/delivery.py) produces a batch's answers before
its records count as done, so before their offsets are committed."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

from consumer.answers.producer import TopicProducer, open_topic_producer
from consumer.answers.records import Answer, AnswerRecord, Invocation, answer_records, error_record
from consumer.settings.model import BridgeSettings

__all__ = [
    "Answer",
    "AnswerRecord",
    "AnswerTopics",
    "Invocation",
    "TopicProducer",
    "answer_records",
    "error_record",
    "open_answer_topics",
]


@dataclass(frozen=True)
class AnswerTopics:
    responses: TopicProducer | None = None  # RESPONSE_TOPIC
    errors: TopicProducer | None = None  # ERROR_TOPIC


async def open_answer_topics(settings: BridgeSettings, resources: AsyncExitStack) -> AnswerTopics:
    """The producers of RESPONSE_TOPIC and ERROR_TOPIC (those set), closed with `resources`."""
    responses = errors = None
    if settings.response_topic is not None:
        responses = await open_topic_producer(
            settings, "RESPONSE_TOPIC", settings.response_topic, resources
        )
    if settings.error_topic is not None:
        errors = await open_topic_producer(settings, "ERROR_TOPIC", settings.error_topic, resources)
    return AnswerTopics(responses, errors)
