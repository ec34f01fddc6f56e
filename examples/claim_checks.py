"""Reading claim checks in a Lambda function: records too large for an invocation, which the
bridge stored in S3 (LARGE_RECORDS=s3://bucket/prefix) and sent as a reference.

One file, no dependency beyond boto3 (Lambda's Python runtime has it): copy it next to your
handler. It reads every payload format:

- `native`: a record of the event (`event["records"]["<topic>-<partition>"][i]`), or the same
  record as Powertools gives it (`KafkaEvent(event).records`, or `ConsumerRecords.records` of
  `@kafka_consumer`): flagged by the header `kafka-to-lambda-claim-check: 1`;
- `legacy`: a record of the event's list, flagged by the same header;
- `value`: the event itself, whose one top-level key is "kafkaToLambdaClaimCheck".

    from claim_checks import value_of

    def handler(event, context):
        for records in event["records"].values():
            for record in records:
                data = value_of(record, location="s3://my-bucket/large-records/")
                ...  # the value as the function would have received it, stored or not

`value_of` returns a record's value: its own (decoded from base64 in `native`), or the stored
bytes of a claim check, checked against the reference's size and SHA-256 (`ClaimCheckError`
on any mismatch, and for a reference that is not well formed, points outside `location`, or
is larger than `max_bytes`). The reference, version 1:

    {"kafkaToLambdaClaimCheck":{"version":1,"bucket":"<bucket>","key":"<prefix><sha256 hex>",
      "size":<bytes>,"sha256":"<hex>","replaces":"value"}}

The function's role needs `s3:GetObject` on `arn:aws:s3:::<bucket>/<prefix>*` (and
`kms:Decrypt` on the key, when the objects are encrypted with a customer key): the bridge's
deployment does not grant it (see docs/large-records.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CLAIM_CHECK_FIELD = "kafkaToLambdaClaimCheck"
CLAIM_CHECK_HEADER = "kafka-to-lambda-claim-check"
CLAIM_CHECK_VERSION = 1
DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # what one invocation reads into memory, at most

# A reference is a few hundred bytes: anything much longer is not one, and is not parsed.
_MAX_REFERENCE_BYTES = 4096
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}\Z")
_MAX_KEY_CHARS = 1024
_CHUNK_BYTES = 1024 * 1024


class ClaimCheckError(ValueError):
    """A claim check that cannot be trusted or read; the message says which and why."""


@dataclass(frozen=True)
class ClaimCheck:
    bucket: str
    key: str
    size: int  # bytes
    sha256: str  # hex


def claim_check_of(record: Any) -> ClaimCheck | None:
    """The claim check `record` carries, or None for a record that carries its own value.

    `record`: a native or legacy event record (a dict), a value-format event, or a Powertools
    Kafka record (read through its `raw_event`). ClaimCheckError for a record flagged as a
    claim check whose reference is not well formed."""
    raw = getattr(record, "raw_event", record)
    if not isinstance(raw, Mapping):
        raise ClaimCheckError(f"not a Kafka event record: a {type(record).__name__}")
    if CLAIM_CHECK_FIELD in raw:  # payloadFormat=value: the event is the reference
        return _reference(raw)
    if not _flagged(raw.get("headers")):
        return None
    value = raw.get("value")
    if not isinstance(value, str) or len(value) > 2 * _MAX_REFERENCE_BYTES:
        raise ClaimCheckError("a record flagged as a claim check has no reference as its value")
    if _is_native(raw):
        try:
            document = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ClaimCheckError("a claim check's value is not base64") from None
    else:
        document = value.encode("utf-8", "surrogatepass")
    return _reference(_parse(document))


def value_of(
    record: Any,
    s3: Any = None,
    *,
    location: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes | None:
    """The record's value: read from S3 and checked when it is a claim check, else its own
    (None for a tombstone; for a `value`-format event, the event as compact JSON, as Lambda
    parsed the value). `s3`: a boto3 S3 client (default: a new one); `location`:
    `s3://bucket/prefix` a claim check must point into (None: anywhere, not advised)."""
    check = claim_check_of(record)
    if check is not None:
        return read(check, s3, location=location, max_bytes=max_bytes)
    raw = getattr(record, "raw_event", record)
    value = raw.get("value")
    if "headers" not in raw:  # a value-format event: the payload itself
        return json.dumps(raw, separators=(",", ":")).encode()
    if value is None:
        return None
    if _is_native(raw):
        return base64.b64decode(value)
    return str(value).encode()


def read(
    check: ClaimCheck,
    s3: Any = None,
    *,
    location: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """The stored bytes of `check`, once their size and SHA-256 match the reference."""
    if location is not None:
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if check.bucket != bucket or not check.key.startswith(prefix):
            raise ClaimCheckError(
                f"claim check s3://{check.bucket}/{check.key} is outside {location}: refused"
            )
    if check.size > max_bytes:
        raise ClaimCheckError(
            f"claim check of {check.size} bytes is over max_bytes={max_bytes}: raise it "
            "(and the function's memory) to read it"
        )
    if s3 is None:
        import boto3  # Lambda's runtime has it; imported here so parsing needs nothing

        s3 = boto3.client("s3")
    body = s3.get_object(Bucket=check.bucket, Key=check.key)["Body"]
    digest = hashlib.sha256()
    chunks = []
    received = 0
    while received <= check.size:
        chunk = body.read(min(_CHUNK_BYTES, check.size + 1 - received))
        if not chunk:
            break
        received += len(chunk)
        digest.update(chunk)
        chunks.append(chunk)
    body.close()
    if received != check.size:
        raise ClaimCheckError(
            f"s3://{check.bucket}/{check.key} holds "
            f"{'more than ' if received > check.size else ''}{received} bytes, the claim check "
            f"says {check.size}: refused"
        )
    if digest.hexdigest() != check.sha256:
        raise ClaimCheckError(
            f"s3://{check.bucket}/{check.key} does not match the claim check's SHA-256: the "
            "object was changed or replaced; refused"
        )
    return b"".join(chunks)


def _flagged(headers: Any) -> bool:
    """The claim-check header with value "1", as native (signed byte ints) or legacy
    (base64) headers carry it."""
    if not isinstance(headers, list):
        return False
    for header in headers[:1000]:
        if isinstance(header, Mapping) and CLAIM_CHECK_HEADER in header:
            value = header[CLAIM_CHECK_HEADER]
            if value == [49] or value == "MQ==":  # b"1", native and legacy
                return True
    return False


def _is_native(raw: Mapping[str, Any]) -> bool:
    """A native record names its timestamp type; a legacy one has no such field."""
    return "timestampType" in raw


def _parse(document: bytes) -> Any:
    if len(document) > _MAX_REFERENCE_BYTES:
        raise ClaimCheckError(
            f"a claim check's reference is {len(document)} bytes, over the "
            f"{_MAX_REFERENCE_BYTES} a reference takes: not a reference"
        )
    try:
        return json.loads(document)
    except (ValueError, RecursionError):
        raise ClaimCheckError("a claim check's reference is not JSON") from None


def _reference(document: Any) -> ClaimCheck:
    """The claim check of a parsed reference document, every field checked."""
    if not isinstance(document, Mapping) or set(document) != {CLAIM_CHECK_FIELD}:
        raise ClaimCheckError(f'a claim check is {{"{CLAIM_CHECK_FIELD}": {{...}}}} alone')
    reference = document[CLAIM_CHECK_FIELD]
    if not isinstance(reference, Mapping):
        raise ClaimCheckError(f"{CLAIM_CHECK_FIELD} is not an object")
    version = reference.get("version")
    if type(version) is not int or version != CLAIM_CHECK_VERSION:
        raise ClaimCheckError(
            f"claim check version {version!r} is not {CLAIM_CHECK_VERSION}: use the reader "
            "of the bridge that wrote it"
        )
    bucket, key = reference.get("bucket"), reference.get("key")
    size, sha256 = reference.get("size"), reference.get("sha256")
    if not isinstance(bucket, str) or not _BUCKET.match(bucket):
        raise ClaimCheckError("a claim check's bucket is not an S3 bucket name")
    if not isinstance(sha256, str) or not _SHA256_HEX.match(sha256):
        raise ClaimCheckError("a claim check's sha256 is not 64 lower-case hex digits")
    if not isinstance(key, str) or len(key) > _MAX_KEY_CHARS or not key.endswith(sha256):
        raise ClaimCheckError("a claim check's key is not <prefix><sha256> within 1024 chars")
    if type(size) is not int or size < 0:
        raise ClaimCheckError("a claim check's size is not a whole number of bytes")
    if reference.get("replaces") != "value":
        raise ClaimCheckError('a claim check version 1 replaces "value"')
    return ClaimCheck(bucket, key, size, sha256)
