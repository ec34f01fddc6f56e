"""What one answer of the function becomes on RESPONSE_TOPIC: one record, or one per result.

No I/O here. An invocation's answer (the response body) is produced as one record keyed
`<topic>-<partition>` of its source, unless it is an object with a `results` list of
per-record results, `{"results": [{"itemIdentifier": "<offset>", "value": <any JSON>}]}`
(the shape of `batchItemFailures`); then each result is a record of its own, keyed by its
source record's key, in source-offset order. A result's value becomes the record's value:
a JSON string as its UTF-8 text, `null` (or no `value`) as a null value (a tombstone), any
other JSON as its JSON text as the function wrote it.

A `results` list that cannot be mapped one to one onto the invocation's records (not a list
of objects, an identifier that is no offset of the invocation, one named twice, more
results than records, nesting too deep to read) is never guessed at: the whole answer goes
as one record, with header `answer.unsplit.reason` saying why. An empty or `null` answer
produces nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from consumer.records import KafkaRecord
from consumer.settings.lambda_limits import LAMBDA_REQUEST_RESPONSE_MAX_BYTES

HEADER_PREFIX = "answer."
SOURCE_TOPIC = HEADER_PREFIX + "source.topic"
SOURCE_PARTITION = HEADER_PREFIX + "source.partition"
FIRST_OFFSET = HEADER_PREFIX + "source.first.offset"
LAST_OFFSET = HEADER_PREFIX + "source.last.offset"
SOURCE_OFFSET = HEADER_PREFIX + "source.offset"  # per-record results only
FUNCTION_NAME = HEADER_PREFIX + "function.name"
REQUEST_ID = HEADER_PREFIX + "request.id"
UNSPLIT_REASON = HEADER_PREFIX + "unsplit.reason"
ERROR_TYPE = HEADER_PREFIX + "error.type"  # ERROR_TOPIC only
ATTEMPT = HEADER_PREFIX + "attempt"  # ERROR_TOPIC only: the records' invocation count

_NULL = msgspec.Raw(b"null")


class _Result(msgspec.Struct, forbid_unknown_fields=False):
    itemIdentifier: str | int  # the field's name in the function's answer
    value: msgspec.Raw = _NULL


class _Results(msgspec.Struct, forbid_unknown_fields=False):
    results: list[_Result] | None = None  # None: no `results` at the top, a whole answer


_decode_results = msgspec.json.Decoder(_Results).decode
_decode_text = msgspec.json.Decoder(str).decode


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Invocation:
    """Where an answer came from: the invocation's source partition, function and request."""

    topic: str
    partition: int
    function_name: str
    request_id: str | None

    def headers(self) -> list[tuple[str, bytes]]:
        found = [
            (SOURCE_TOPIC, self.topic.encode()),
            (SOURCE_PARTITION, str(self.partition).encode()),
            (FUNCTION_NAME, self.function_name.encode()),
        ]
        if self.request_id is not None:
            found.append((REQUEST_ID, self.request_id.encode()))
        return found


@dataclass(frozen=True, slots=True)
class Answer:
    """What to produce for one answer; `unsplit_reason` says why results were not split."""

    records: list[AnswerRecord]
    unsplit_reason: str | None = None


class Unsplittable(ValueError):
    """The `results` list cannot be mapped one to one onto the invocation's records."""


def answer_records(
    body: bytes,
    invocation: Invocation,
    sources: Sequence[KafkaRecord],
    retried_offsets: frozenset[int] = frozenset(),
) -> Answer:
    """The records to produce for `body`, the answer to an invocation of `sources` (in offset
    order). Results of `retried_offsets` (records the function reported failed, invoked
    again) are left out: their retry answers them, after any earlier record of their key."""
    if not body.strip() or body.strip() == b"null":
        return Answer([])
    # Cheap tests before parsing a large answer: results come in an object, named so.
    if b'"results"' in body and body.lstrip().startswith(b"{"):
        try:
            split = _split(body, invocation, sources, retried_offsets)
        except Unsplittable as reason:
            return Answer([_whole(body, invocation, sources, str(reason))], str(reason))
        if split is not None:
            return Answer(split)
    return Answer([_whole(body, invocation, sources, None)])


def error_record(
    body: bytes,
    error_type: str,
    attempt: int,
    invocation: Invocation,
    sources: Sequence[KafkaRecord],
) -> AnswerRecord:
    """A function error as ERROR_TOPIC gets it: the error body, with the source headers."""
    whole = _whole(body, invocation, sources, None)
    whole.headers.extend([(ERROR_TYPE, error_type.encode()), (ATTEMPT, str(attempt).encode())])
    return whole


def _whole(
    body: bytes, invocation: Invocation, sources: Sequence[KafkaRecord], reason: str | None
) -> AnswerRecord:
    headers = invocation.headers()
    headers.append((FIRST_OFFSET, str(sources[0].offset).encode()))
    headers.append((LAST_OFFSET, str(sources[-1].offset).encode()))
    if reason is not None:
        headers.append((UNSPLIT_REASON, reason.encode()))
    key = f"{invocation.topic}-{invocation.partition}".encode()
    return AnswerRecord(key, body, headers)


def _split(
    body: bytes,
    invocation: Invocation,
    sources: Sequence[KafkaRecord],
    retried_offsets: frozenset[int],
) -> list[AnswerRecord] | None:
    """The records of the results, or None when the answer has no `results` at its top."""
    if len(body) > LAMBDA_REQUEST_RESPONSE_MAX_BYTES:
        raise Unsplittable("the answer is over Lambda's response limit")
    try:
        results = _decode_results(body).results
    except (msgspec.DecodeError, RecursionError) as error:
        raise Unsplittable(f"results are not a list of results: {_short(error)}") from None
    if results is None:
        return None
    if len(results) > len(sources):
        raise Unsplittable(f"{len(results)} results for {len(sources)} records")
    by_offset = {str(record.offset): i for i, record in enumerate(sources)}
    value_of: dict[int, msgspec.Raw] = {}
    for result in results:
        identifier = result.itemIdentifier
        if isinstance(identifier, str):
            identifier = identifier.strip()
        index = by_offset.get(str(identifier))
        if index is None:
            raise Unsplittable("a result names an offset not in the invocation")
        if index in value_of:
            raise Unsplittable("a result names an offset twice")
        value_of[index] = result.value
    shared = invocation.headers()
    produced = []
    for index in sorted(value_of):
        source = sources[index]
        if source.offset in retried_offsets:
            continue
        headers = [*shared, (SOURCE_OFFSET, str(source.offset).encode())]
        produced.append(AnswerRecord(source.key, _value(value_of[index]), headers))
    return produced


def _value(raw: msgspec.Raw) -> bytes | None:
    text = bytes(raw)
    if text == b"null":
        return None
    if text.startswith(b'"'):
        try:
            return _decode_text(text).encode()
        except UnicodeEncodeError:  # a lone surrogate escape: no UTF-8 text has it
            raise Unsplittable("a result's text is not valid Unicode") from None
    return text


def _short(error: BaseException) -> str:
    # msgspec's messages name a path in the answer, never its contents; bounded all the same.
    return str(error)[:200]
