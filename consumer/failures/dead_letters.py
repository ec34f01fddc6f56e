"""Dead letters: records the function cannot take, written durably with why.

A write returns only once the dead letters are stored (S3 answered, every in-sync
replica of the Kafka topic has them, or the file and its directory entry are fsync'd);
only then may the offset move past them. A failed write raises, and the bridge retries
it without committing.

S3: one JSON object per record at `<prefix><topic>/<partition>/<offset>-<writer>.json`,
with zero-padded numbers so keys sort by topic, partition and offset, and a writer id so
two tasks that both dead-letter a redelivered record never overwrite each other.
Kafka: the record as it was (key, value, headers) with the error added as headers.
File (local runs): the S3 document and key layout, under a directory instead of a bucket.
SQS queue or SNS topic: one message per record, the S3 document when it fits, else a pointer
to the whole document in DLQ_OVERFLOW (message_dead_letters.py, letter_messages.py).

The document and the S3 key layout are letters.py's, re-exported here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from consumer.aws_lambda.aws_clients import ONE_ATTEMPT, open_client
from consumer.errors import ConfigurationError
from consumer.failures.letters import (
    MAX_ERROR_MESSAGE_CHARS,
    DeadLetter,
    dead_letter_document,
    iso_time,
    s3_key,
    topic_segment,
)
from consumer.failures.message_dead_letters import open_message_dead_letters
from consumer.kafka.connection import producer_arguments
from consumer.records import header_name_bytes
from consumer.settings.failures import DlqLocation, parse_dlq
from consumer.settings.model import BridgeSettings

__all__ = [
    "DeadLetter",
    "DeadLetterSink",
    "FileDeadLetters",
    "KafkaDeadLetters",
    "S3DeadLetters",
    "dead_letter_document",
    "open_dead_letters",
    "s3_key",
    "topic_segment",
]

HEADER_PREFIX = "dlq."
ESCAPED_HEADER_NAME = f"{HEADER_PREFIX}header-name-base64."


def kafka_header_name(name: str) -> str:
    """A header name as the Kafka dead-letter topic gets it: a Kafka client writes only UTF-8
    names, so one that is not goes as `dlq.header-name-base64.<its bytes in base64>`."""
    name_bytes = header_name_bytes(name)
    if name_bytes is None:
        return name
    return ESCAPED_HEADER_NAME + base64.b64encode(name_bytes).decode()


def original_header_name(name: str) -> str | None:
    """The name `kafka_header_name` escaped, or None if `name` is not one it escaped."""
    if not name.startswith(ESCAPED_HEADER_NAME):
        return None
    name_bytes = base64.b64decode(name[len(ESCAPED_HEADER_NAME) :])
    return name_bytes.decode("utf-8", "surrogateescape")


def dead_letter_headers(letter: DeadLetter, function_name: str) -> list[tuple[str, bytes]]:
    """The original headers, then the error and origin under `dlq.` names."""
    record = letter.record
    added = {
        "error.type": letter.error_type,
        "error.message": letter.error_message[:MAX_ERROR_MESSAGE_CHARS],
        "attempts": str(letter.attempts),
        "first.attempt.at": iso_time(letter.first_attempt_at),
        "last.attempt.at": iso_time(letter.last_attempt_at),
        "function.name": function_name,
        "source.topic": record.topic,
        "source.partition": str(record.partition),
        "source.offset": str(record.offset),
        "source.timestamp": str(record.timestamp),
    }
    return [
        *((kafka_header_name(name), value) for name, value in record.headers),
        *((HEADER_PREFIX + name, value.encode()) for name, value in added.items()),
    ]


class DeadLetterSink(Protocol):
    description: str  # where the letters go, for logs

    async def write(self, letters: Sequence[DeadLetter]) -> None: ...


class S3DeadLetters:
    def __init__(self, client: Any, location: DlqLocation, settings: BridgeSettings) -> None:
        self._client = client
        self._bucket = location.target
        self._prefix = location.prefix
        self._function = settings.lambda_function_name
        self._format = settings.payload_format.value
        self._bootstrap_servers = settings.kafka_bootstrap_servers
        self._writer_id = uuid.uuid4().hex[:12]
        self.description = f"s3://{self._bucket}/{self._prefix}"

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            document = dead_letter_document(
                letter, self._function, self._format, self._bootstrap_servers
            )
            await self._client.put_object(
                Bucket=self._bucket,
                Key=s3_key(self._prefix, letter.record, self._writer_id),
                Body=json.dumps(document).encode(),
                ContentType="application/json",
            )


class KafkaDeadLetters:
    def __init__(
        self, producer: AIOKafkaProducer, location: DlqLocation, settings: BridgeSettings
    ) -> None:
        self._producer = producer
        self._topic = location.target
        self._function = settings.lambda_function_name
        self.description = f"kafka://{self._topic}"

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        sent = [
            await self._producer.send(
                self._topic,
                key=letter.record.key,
                value=letter.record.value,
                headers=dead_letter_headers(letter, self._function),
            )
            for letter in letters
        ]
        for delivery in sent:
            await delivery  # acks=all: stored on every in-sync replica


class FileDeadLetters:
    """One JSON file per record at `<directory>/<topic>/<partition>/<offset>-<writer>.json`.

    Each file is written under a temporary name, fsync'd, renamed into place, and its
    directory fsync'd, so once `write` returns the letter survives a crash, and a reader
    never sees half a file.
    """

    def __init__(self, directory: Path, settings: BridgeSettings) -> None:
        self._directory = directory
        self._function = settings.lambda_function_name
        self._format = settings.payload_format.value
        self._bootstrap_servers = settings.kafka_bootstrap_servers
        self.directory = directory
        # In every file's name: tells this sink's files from other writers' (another task, an
        # earlier run) in the same directory.
        self.writer_id = uuid.uuid4().hex[:12]
        self._made: set[Path] = set()  # directories known to exist durably
        self.description = f"file://{directory}"

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        # Disk writes and fsyncs block: off the event loop, which keeps delivering meanwhile.
        await asyncio.to_thread(self._write_all, letters)

    def _write_all(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            path = self._directory / s3_key("", letter.record, self.writer_id)
            document = dead_letter_document(
                letter, self._function, self._format, self._bootstrap_servers
            )
            self._make_directory(path.parent)
            partial = path.with_name(f".{path.name}.partial")
            with partial.open("wb") as file:
                file.write(json.dumps(document).encode())
                file.flush()
                os.fsync(file.fileno())
            partial.replace(path)
            _fsync_directory(path.parent)

    def _make_directory(self, directory: Path) -> None:
        """Creates `directory` and its missing parents, each new entry fsync'd in its parent."""
        if directory in self._made:
            return
        missing = []
        for ancestor in (directory, *directory.parents):
            if ancestor.is_dir():
                break
            missing.append(ancestor)
        for new in reversed(missing):
            new.mkdir(exist_ok=True)
            _fsync_directory(new.parent)
        self._made.add(directory)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def open_file_dead_letters(location: DlqLocation, settings: BridgeSettings) -> FileDeadLetters:
    directory = Path(location.target).absolute()
    if directory.exists() and not directory.is_dir():
        raise ConfigurationError(
            f"DLQ={settings.dlq}: {directory} is not a directory; name a directory (it is "
            "created if missing)."
        )
    return FileDeadLetters(directory, settings)


async def open_dead_letters(
    settings: BridgeSettings, resources: AsyncExitStack
) -> DeadLetterSink | None:
    """The configured sink, its client closed with `resources`; None without DLQ."""
    if settings.dlq is None:
        return None
    location = parse_dlq(settings.dlq)
    if location.scheme == "s3":
        client = await open_client(
            resources,
            "s3",
            settings,
            endpoint_url=settings.s3_endpoint_url,
            config=ONE_ATTEMPT,
        )
        return S3DeadLetters(client, location, settings)
    if location.scheme == "file":
        return open_file_dead_letters(location, settings)
    if location.scheme in ("sqs", "sns"):
        return await open_message_dead_letters(location, settings, resources)
    producer = AIOKafkaProducer(**producer_arguments(settings))
    await producer.start()
    resources.push_async_callback(producer.stop)
    return KafkaDeadLetters(producer, location, settings)
