"""SQS queues and SNS topics on moto, and the bridge's environment with dead letters to them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aioboto3

from consumer.local import LocalLambda
from tests.support.bridge_harness import bridge_environment
from tests.support.kafka_records import KafkaTestClient
from tests.support.moto_fixtures import REGION, MotoServer

ACCOUNT = "123456789012"  # moto's


def queue_url(name: str) -> str:
    """The URL AWS gives the queue; the bridge reaches moto through SQS_ENDPOINT_URL."""
    return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"


async def create_queue(moto: MotoServer, fifo: bool = False, **attributes: str) -> str:
    """A new queue on moto; its AWS-style URL."""
    name = f"dlq-{uuid.uuid4().hex[:12]}" + (".fifo" if fifo else "")
    if fifo:
        attributes["FifoQueue"] = "true"
    async with aioboto3.Session().client("sqs", **moto.client_kwargs()) as sqs:
        await sqs.create_queue(QueueName=name, Attributes=attributes)
    return queue_url(name)


async def create_topic_with_queue(moto: MotoServer, raw: bool = False) -> tuple[str, str]:
    """A new SNS topic and a queue subscribed to it: (topic ARN, queue URL)."""
    url = await create_queue(moto)
    name = f"dlq-{uuid.uuid4().hex[:12]}"
    async with (
        aioboto3.Session().client("sns", **moto.client_kwargs()) as sns,
    ):
        topic = (await sns.create_topic(Name=name))["TopicArn"]
        await sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[1]}",
            Attributes={"RawMessageDelivery": "true" if raw else "false"},
        )
    return topic, url


async def messages_in(moto: MotoServer, url: str) -> list[dict[str, Any]]:
    """Every message the queue has visible now, left in place (visible again at once)."""
    found: dict[str, dict[str, Any]] = {}
    async with aioboto3.Session().client("sqs", **moto.client_kwargs()) as sqs:
        while True:
            answer = await sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                VisibilityTimeout=60,
            )
            messages = answer.get("Messages", [])
            if not messages:
                break
            for message in messages:
                found[message["MessageId"]] = message
        for message in found.values():
            await sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    return list(found.values())


def documents_of(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The dead-letter documents, from the message bodies (or their SNS envelopes)."""
    documents = []
    for message in messages:
        body = json.loads(message["Body"])
        if body.get("Type") == "Notification":
            body = json.loads(body["Message"])
        documents.append(body)
    return documents


def message_environment(
    kafka: KafkaTestClient,
    local_lambda: LocalLambda,
    moto: MotoServer,
    dlq: str,
    overflow: str,
    topic: str,
    group: str,
    **overrides: Any,
) -> dict[str, str]:
    """The bridge's environment with dead letters to `dlq` (a queue or topic on moto)."""
    return bridge_environment(
        kafka,
        local_lambda.url,
        topic,
        group,
        dlq=dlq,
        dlq_overflow=overflow,
        sqs_endpoint_url=moto.endpoint_url,
        sns_endpoint_url=moto.endpoint_url,
        s3_endpoint_url=moto.endpoint_url,
        **overrides,
    )
