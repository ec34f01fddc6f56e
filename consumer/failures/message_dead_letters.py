"""Dead letters as SQS or SNS messages, what does not fit a message going whole to S3.

Invariants of `MessageDeadLetters.write`:
- it returns only once the service has accepted every letter's message (SendMessageBatch
  or PublishBatch reported success for each entry), and a message that points to S3 is
  sent only after its object is stored; any failed entry raises, and the bridge retries
  the write without committing;
- a letter whose message was accepted in a write that then failed is not sent again when
  the write is retried (a FIFO queue or topic would also drop it as a duplicate).

Start-up reads the queue's or topic's attributes, which proves it exists and may be reached
with these credentials, and gives an SQS queue's MaximumMessageSize; a clear error names DLQ
otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from consumer.aws_lambda.aws_clients import ONE_ATTEMPT, open_client
from consumer.errors import ConfigurationError
from consumer.failures.letter_messages import (
    MIN_MESSAGE_BYTES,
    SNS_MAX_MESSAGE_BYTES,
    LetterMessage,
    batches,
    letter_message,
)
from consumer.failures.letters import DeadLetter, dead_letter_document, s3_key
from consumer.settings.aws_destinations import AwsDestination
from consumer.settings.failures import DlqLocation, parse_overflow
from consumer.settings.model import BridgeSettings

_LetterId = tuple[str, int, int]  # topic, partition, offset


class DeadLetterMessagesRefused(Exception):
    """The service did not accept some of the messages (they are retried)."""


class Publisher(Protocol):
    description: str
    max_message_bytes: int

    async def send(self, batch: Sequence[LetterMessage]) -> set[int]:
        """Sends the batch; the indexes of the entries the service accepted."""
        ...


class SqsPublisher:
    def __init__(self, client: Any, queue: AwsDestination, max_message_bytes: int) -> None:
        self._client = client
        self._url = queue.url
        self.max_message_bytes = max_message_bytes
        self.description = queue.url

    async def send(self, batch: Sequence[LetterMessage]) -> set[int]:
        entries = []
        for index, message in enumerate(batch):
            entry: dict[str, Any] = {
                "Id": str(index),
                "MessageBody": message.body,
                "MessageAttributes": message.attributes,
            }
            entries.append(_with_fifo_ids(entry, message))
        answer = await self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
        return {int(entry["Id"]) for entry in answer.get("Successful", [])}


class SnsPublisher:
    max_message_bytes = SNS_MAX_MESSAGE_BYTES

    def __init__(self, client: Any, topic: AwsDestination) -> None:
        self._client = client
        self._arn = topic.arn
        self.description = topic.arn

    async def send(self, batch: Sequence[LetterMessage]) -> set[int]:
        entries = []
        for index, message in enumerate(batch):
            entry: dict[str, Any] = {
                "Id": str(index),
                "Message": message.body,
                "MessageAttributes": message.attributes,
            }
            entries.append(_with_fifo_ids(entry, message))
        answer = await self._client.publish_batch(
            TopicArn=self._arn, PublishBatchRequestEntries=entries
        )
        return {int(entry["Id"]) for entry in answer.get("Successful", [])}


def _with_fifo_ids(entry: dict[str, Any], message: LetterMessage) -> dict[str, Any]:
    if message.group_id is not None:
        entry["MessageGroupId"] = message.group_id
        entry["MessageDeduplicationId"] = message.deduplication_id
    return entry


class MessageDeadLetters:
    """Dead letters to an SQS queue or SNS topic; the whole document to S3 when too large."""

    def __init__(
        self,
        publisher: Publisher,
        fifo: bool,
        s3_client: Any,
        overflow: DlqLocation,
        settings: BridgeSettings,
    ) -> None:
        self._publisher = publisher
        self._fifo = fifo
        self._s3 = s3_client
        self._overflow = overflow
        self._function = settings.lambda_function_name
        self._format = settings.payload_format.value
        self._bootstrap_servers = settings.kafka_bootstrap_servers
        self._writer_id = uuid.uuid4().hex[:12]
        self._sent_before_a_failure: set[_LetterId] = set()
        self.description = publisher.description

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        messages = [
            self._message(letter)
            for letter in letters
            if _letter_id(letter) not in self._sent_before_a_failure
        ]
        for message in messages:
            if message.overflow_key is not None:
                assert message.overflow_document is not None
                await self._s3.put_object(
                    Bucket=self._overflow.target,
                    Key=message.overflow_key,
                    Body=message.overflow_document,
                    ContentType="application/json",
                )
        max_bytes = self._publisher.max_message_bytes
        refused = 0
        for batch in batches(messages, max_bytes):
            accepted = await self._publisher.send(batch)
            for index, message in enumerate(batch):
                if index in accepted:
                    self._sent_before_a_failure.add(_letter_id(message.letter))
                else:
                    refused += 1
        if refused:
            raise DeadLetterMessagesRefused(
                f"{self.description} refused {refused} of {len(messages)} dead-letter messages"
            )
        for letter in letters:  # all stored: a later write of the same record is a new one
            self._sent_before_a_failure.discard(_letter_id(letter))

    def _message(self, letter: DeadLetter) -> LetterMessage:
        document = dead_letter_document(
            letter, self._function, self._format, self._bootstrap_servers
        )
        return letter_message(
            letter,
            document,
            max_bytes=self._publisher.max_message_bytes,
            overflow_bucket=self._overflow.target,
            overflow_key=s3_key(self._overflow.prefix, letter.record, self._writer_id),
            fifo=self._fifo,
        )


def _letter_id(letter: DeadLetter) -> _LetterId:
    return letter.record.topic, letter.record.partition, letter.record.offset


async def open_message_dead_letters(
    location: DlqLocation, settings: BridgeSettings, resources: AsyncExitStack
) -> MessageDeadLetters:
    """The SQS or SNS sink `location` names, its clients closed with `resources`; a
    ConfigurationError naming DLQ when the queue or topic cannot be read."""
    destination = location.aws
    assert destination is not None, "an SQS or SNS DLQ"
    assert settings.dlq_overflow is not None, "required with one, by the settings"
    overflow = parse_overflow(settings.dlq_overflow)
    s3 = await open_client(
        resources, "s3", settings, endpoint_url=settings.s3_endpoint_url, config=ONE_ATTEMPT
    )
    publisher: Publisher
    if destination.service == "sqs":
        sqs = await open_client(
            resources,
            "sqs",
            settings,
            region=destination.region,
            endpoint_url=settings.sqs_endpoint_url or destination.endpoint_url,
            config=ONE_ATTEMPT,
        )
        publisher = SqsPublisher(sqs, destination, await _queue_limit(sqs, destination))
    else:
        sns = await open_client(
            resources,
            "sns",
            settings,
            region=destination.region,
            endpoint_url=settings.sns_endpoint_url,
            config=ONE_ATTEMPT,
        )
        await _check_topic(sns, destination)
        publisher = SnsPublisher(sns, destination)
    return MessageDeadLetters(publisher, destination.fifo, s3, overflow, settings)


async def _queue_limit(sqs: Any, queue: AwsDestination) -> int:
    try:
        answer = await sqs.get_queue_attributes(
            QueueUrl=queue.url, AttributeNames=["MaximumMessageSize"]
        )
    except (ClientError, BotoCoreError) as error:
        raise _unreachable(queue, error, "sqs:GetQueueAttributes") from None
    max_bytes = int(answer.get("Attributes", {}).get("MaximumMessageSize", 262_144))
    if max_bytes < MIN_MESSAGE_BYTES:
        raise ConfigurationError(
            f"DLQ={queue.url}: the queue's MaximumMessageSize is {max_bytes} bytes; a dead "
            f"letter's message needs up to {MIN_MESSAGE_BYTES}: raise it (up to 1048576)"
        )
    return max_bytes


async def _check_topic(sns: Any, topic: AwsDestination) -> None:
    try:
        await sns.get_topic_attributes(TopicArn=topic.arn)
    except (ClientError, BotoCoreError) as error:
        raise _unreachable(topic, error, "sns:GetTopicAttributes") from None


def _unreachable(
    destination: AwsDestination, error: ClientError | BotoCoreError, action: str
) -> ConfigurationError:
    named = destination.url if destination.service == "sqs" else destination.arn
    kind = "queue" if destination.service == "sqs" else "topic"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if "NonExistent" in code or "NotFound" in code or "QueueDoesNotExist" in code:
            return ConfigurationError(
                f"DLQ={named}: no such {kind} (in region {destination.region or 'of AWS_REGION'}"
                f"): create it, or name an existing one"
            )
        if "AccessDenied" in code or "AuthorizationError" in code:
            return ConfigurationError(
                f"DLQ={named}: this identity may not read the {kind}'s attributes: grant "
                f"{action} on it (and {'sqs:SendMessage' if kind == 'queue' else 'sns:Publish'})"
            )
        return ConfigurationError(f"DLQ={named}: the {kind} could not be read ({code})")
    return ConfigurationError(
        f"DLQ={named}: the {kind} could not be reached ({type(error).__name__}); check the "
        "network path to the service and its endpoint"
    )
