"""A dead letter as an SQS or SNS message: the body, the attributes a console or an alarm
filters on, and, for a FIFO queue or topic, its group and deduplication id. Pure: no I/O.

The body is the dead-letter document S3 and files hold (letters.py) when the message fits
the service's limit; else the document without the record's key, value and headers, with
`"overflow": {"bucket", "key"}` naming the S3 object that holds the whole document. Both
services count the body and every attribute's name, type and value against the limit.

Attributes (String unless said): `error.type`, `source.topic`, `source.partition` (Number),
`source.offset` (Number), and `overflow` (the s3:// URI) on a message that points to S3.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from consumer.failures.letters import DeadLetter

# SNS: 256 KiB for the message and its attributes; an SQS queue says its own (up to 1 MiB).
SNS_MAX_MESSAGE_BYTES = 262_144
MAX_BATCH_ENTRIES = 10  # SendMessageBatch and PublishBatch both
# A queue's MaximumMessageSize may be as low as 1 KiB: a message that points to S3 (with an
# error message of up to 1,000 characters) must always fit, so less is refused at start-up.
MIN_MESSAGE_BYTES = 16_384

Attributes = dict[str, dict[str, str]]

# What SQS takes in a message (XML 1.0 characters); SNS takes the same in attributes.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# What SQS and SNS take in a FIFO group or deduplication id, of up to 128 characters.
_FIFO_ID = re.compile(r"^[A-Za-z0-9!-/:-@\[-`{-~]{1,128}$")


@dataclass(frozen=True)
class LetterMessage:
    letter: DeadLetter
    body: str
    attributes: Attributes
    overflow_key: str | None  # the S3 key of the whole document, when the message points there
    overflow_document: bytes | None  # what goes to that key
    group_id: str | None  # FIFO only: the source topic-partition
    deduplication_id: str | None  # FIFO only: topic/partition/offset

    @property
    def size_bytes(self) -> int:
        return message_size_bytes(self.body, self.attributes)


def message_size_bytes(body: str, attributes: Attributes) -> int:
    """The size SQS and SNS count: the body, and each attribute's name, type and value."""
    size = len(body.encode())
    for name, attribute in attributes.items():
        size += len(name.encode()) + len(attribute["DataType"].encode())
        size += len(attribute["StringValue"].encode())
    return size


def letter_message(
    letter: DeadLetter,
    document: dict[str, Any],
    *,
    max_bytes: int,
    overflow_bucket: str,
    overflow_key: str,
    fifo: bool,
) -> LetterMessage:
    """The message of one dead letter: its whole document when that fits in `max_bytes`,
    else a pointer to `s3://overflow_bucket/overflow_key`, where the whole document goes."""
    record = letter.record
    group_id = deduplication_id = None
    if fifo:  # a partition's letters in their order; a record written twice, once
        group_id = fifo_id(f"{record.topic}-{record.partition}")
        deduplication_id = fifo_id(f"{record.topic}/{record.partition}/{record.offset}")
    whole = json.dumps(document)
    attributes = letter_attributes(letter)
    if message_size_bytes(whole, attributes) <= max_bytes:
        return LetterMessage(letter, whole, attributes, None, None, group_id, deduplication_id)
    pointer = {
        **document,
        "record": {
            name: value
            for name, value in document["record"].items()
            if name not in ("key", "value", "headers")
        },
        "overflow": {"bucket": overflow_bucket, "key": overflow_key},
    }
    attributes["overflow"] = _string(f"s3://{overflow_bucket}/{overflow_key}")
    return LetterMessage(
        letter,
        json.dumps(pointer),
        attributes,
        overflow_key,
        whole.encode(),
        group_id,
        deduplication_id,
    )


def letter_attributes(letter: DeadLetter) -> Attributes:
    record = letter.record
    return {
        "error.type": _string(letter.error_type),
        "source.topic": _string(record.topic),
        "source.partition": {"DataType": "Number", "StringValue": str(record.partition)},
        "source.offset": {"DataType": "Number", "StringValue": str(record.offset)},
    }


def _string(value: str) -> dict[str, str]:
    # Neither service takes an empty value or a character outside XML's.
    return {"DataType": "String", "StringValue": _NOT_XML.sub("\ufffd", value) or "-"}


def fifo_id(text: str) -> str:
    """`text` as a FIFO group or deduplication id: itself if the services take it, else its
    SHA-256 (a topic name may be long, or hold characters they refuse)."""
    if _FIFO_ID.match(text):
        return text
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def batches(messages: Sequence[LetterMessage], max_bytes: int) -> Iterator[list[LetterMessage]]:
    """The messages in order, in batches of at most ten and `max_bytes` in all."""
    batch: list[LetterMessage] = []
    size = 0
    for message in messages:
        if batch and (len(batch) == MAX_BATCH_ENTRIES or size + message.size_bytes > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += message.size_bytes
    if batch:
        yield batch
