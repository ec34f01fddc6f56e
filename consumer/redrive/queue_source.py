"""Dead letters read from an SQS queue: the DLQ's own queue, or a queue subscribed to the
DLQ's SNS topic (an SNS envelope, or the message itself with raw message delivery).

A run receives with long polls, each message hidden from other readers for
`VISIBILITY_TIMEOUT_S` while it is handled. A delivered letter's message is deleted; every
other message (failed, unreadable, passed over by the selection, or listed by a dry run) is
left: made visible again when the run ends, and meanwhile never taken twice. The run ends at
the first receive, after a long poll of `wait_s`, that brings no message it has not seen.

A message that points to S3 (its document was too large) is read whole from DLQ_OVERFLOW,
and only from there. Everything read is bounded and checked; what does not pass is
`Unreadable`, and left in the queue.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from consumer.aws_lambda.aws_clients import open_client
from consumer.errors import ConfigurationError
from consumer.redrive.letters import Candidate, Selection, Unreadable, read_document
from consumer.settings.aws_destinations import AwsDestination, parse_aws_destination
from consumer.settings.failures import DlqLocation, parse_overflow
from consumer.settings.model import BridgeSettings

VISIBILITY_TIMEOUT_S = 1800  # long enough for ten records' invocations, each retried
_MAX_MESSAGE_BYTES = 2 * 1_048_576  # SQS's largest (1 MiB), with room for an SNS envelope
_MAX_OVERFLOW_BYTES = 256 * 1_048_576  # a whole document of a record of up to ~190 MB
_RECEIVE_BATCH = 10  # SQS's largest


@dataclass
class QueueSource:
    """One run's reading of a queue: what it has seen, and what it leaves for later."""

    sqs: Any
    queue_url: str
    s3: Any
    overflow: DlqLocation | None  # DLQ_OVERFLOW, where a pointer's document may be read
    wait_s: int
    seen: set[str] = field(default_factory=set)  # message ids
    left: dict[str, str] = field(default_factory=dict)  # message id → latest receipt handle
    deleted: set[str] = field(default_factory=set)

    async def candidates(self, selection: Selection) -> AsyncIterator[Candidate | Unreadable]:
        while True:
            answer = await self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=_RECEIVE_BATCH,
                WaitTimeSeconds=self.wait_s,
                VisibilityTimeout=VISIBILITY_TIMEOUT_S,
            )
            messages = answer.get("Messages", [])
            fresh = []
            for message in messages:
                if message["MessageId"] in self.seen:  # back after its visibility timeout
                    self.left[message["MessageId"]] = message["ReceiptHandle"]
                else:
                    fresh.append(message)
            if not fresh:
                return
            for message in fresh:
                message_id, handle = message["MessageId"], message["ReceiptHandle"]
                self.seen.add(message_id)
                where = f"{self.queue_url}#{message_id}"
                read = await self._letter(message.get("Body", ""), where)
                if isinstance(read, Unreadable):
                    self.left[message_id] = handle
                    yield read
                    continue
                record, dead_lettered_at, servers = read
                if not selection.takes(record, dead_lettered_at):
                    self.left[message_id] = handle
                    continue

                async def delete(message_id: str = message_id, handle: str = handle) -> None:
                    await self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)
                    self.deleted.add(message_id)

                yield Candidate(record, where, delete, servers)
                if message_id not in self.deleted:  # failed, or a dry run's
                    self.left[message_id] = handle

    async def release_left(self) -> None:
        """Makes the messages left visible again, for the next run (or another reader)."""
        handles = list(self.left.values())
        for start in range(0, len(handles), _RECEIVE_BATCH):
            entries = [
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(handles[start : start + _RECEIVE_BATCH])
            ]
            await self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
        self.left.clear()

    async def _letter(self, body: str, where: str) -> Any:
        if len(body) > _MAX_MESSAGE_BYTES:
            return Unreadable(where, "not a dead letter the bridge wrote (too large)")
        try:
            document = json.loads(body)
            document = _unwrapped(document)
        except Exception as error:  # a foreign or damaged message is its own, not the run's
            return Unreadable(where, f"not a dead letter the bridge wrote ({type(error).__name__})")
        if isinstance(document, dict) and "overflow" in document:
            return await self._overflowed(document, where)
        return read_document(document, where)

    async def _overflowed(self, pointer: dict[str, Any], where: str) -> Any:
        """The whole document a message points to; it must be the same record's."""
        place = pointer["overflow"]
        overflow = self.overflow
        if overflow is None:
            return Unreadable(where, "points to S3: set DLQ_OVERFLOW to where it may be read")
        if (
            not isinstance(place, dict)
            or place.get("bucket") != overflow.target
            or not isinstance(place.get("key"), str)
            or not place["key"].startswith(overflow.prefix)
        ):
            return Unreadable(where, "points to S3 outside DLQ_OVERFLOW: not read")
        try:
            got = await self.s3.get_object(Bucket=place["bucket"], Key=place["key"])
            body = await _read_at_most(got["Body"], _MAX_OVERFLOW_BYTES + 1)
        except (ClientError, BotoCoreError) as error:
            return Unreadable(where, f"its S3 document could not be read ({_code(error)})")
        if len(body) > _MAX_OVERFLOW_BYTES:
            return Unreadable(where, "its S3 document is too large to be a dead letter")
        try:
            document = json.loads(body)
        except Exception as error:  # damaged or foreign: that letter's problem
            return Unreadable(where, f"its S3 document is damaged ({type(error).__name__})")
        read = read_document(document, where)
        if isinstance(read, Unreadable):
            return read
        record = read[0]
        said = pointer.get("record")
        if not isinstance(said, dict) or (
            said.get("topic"),
            said.get("partition"),
            said.get("offset"),
        ) != (record.topic, record.partition, record.offset):
            return Unreadable(where, "its S3 document is another record's")
        return read


async def _read_at_most(stream: Any, max_bytes: int) -> bytes:
    """The stream's bytes, up to `max_bytes` (a read of a size may return less: read on)."""
    chunks: list[bytes] = []
    size = 0
    while size < max_bytes and (chunk := await stream.read(min(1_048_576, max_bytes - size))):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _unwrapped(document: Any) -> Any:
    """The dead letter in an SNS envelope (a queue subscribed without raw message delivery)."""
    if (
        isinstance(document, dict)
        and document.get("Type") == "Notification"
        and isinstance(document.get("Message"), str)
        and "record" not in document
    ):
        return json.loads(document["Message"])
    return document


def _code(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "error"))
    return type(error).__name__


async def open_queue_source(
    settings: BridgeSettings,
    location: DlqLocation,
    from_queue: str | None,
    wait_s: int,
    resources: AsyncExitStack,
) -> QueueSource:
    """The queue to read: the DLQ's own, or `--from-queue` for an SNS DLQ; ConfigurationError
    when the two do not go together, or the queue cannot be read."""
    queue = _queue_to_read(location, from_queue)
    endpoint = settings.sqs_endpoint_url or queue.endpoint_url
    sqs = await open_client(resources, "sqs", settings, region=queue.region, endpoint_url=endpoint)
    s3 = await open_client(resources, "s3", settings, endpoint_url=settings.s3_endpoint_url)
    try:
        await sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["QueueArn"])
    except (ClientError, BotoCoreError) as error:
        raise ConfigurationError(
            f"{'--from-queue' if from_queue else 'DLQ'}={queue.url}: the queue could not be "
            f"read ({_code(error)}): check that it exists, and grant sqs:GetQueueAttributes, "
            "sqs:ReceiveMessage, sqs:DeleteMessage and sqs:ChangeMessageVisibility on it"
        ) from None
    overflow = None if settings.dlq_overflow is None else parse_overflow(settings.dlq_overflow)
    return QueueSource(sqs, queue.url, s3, overflow, wait_s)


def _queue_to_read(location: DlqLocation, from_queue: str | None) -> AwsDestination:
    assert location.aws is not None, "an SQS or SNS DLQ"
    if location.aws.service == "sqs":
        if from_queue is not None:
            raise ConfigurationError(
                "--from-queue is for an SNS DLQ; with an SQS DLQ, redrive reads that queue: "
                "leave --from-queue out"
            )
        return location.aws
    if from_queue is None:
        raise ConfigurationError(
            f"DLQ={location.aws.arn}: redrive cannot read an SNS topic; give --from-queue "
            "<queue URL or ARN>, a queue subscribed to the topic"
        )
    try:
        queue = parse_aws_destination(from_queue)
    except ValueError as bad:
        raise ConfigurationError(f"--from-queue: {bad}") from None
    if queue is None or queue.service != "sqs":
        raise ConfigurationError(
            f"--from-queue={from_queue!r} is not an SQS queue: give its URL or ARN"
        )
    return queue
