"""Claim checks: a record too large for one invocation is stored in S3 and travels as a
reference to the stored bytes, in its place in the event (LARGE_RECORDS=s3://bucket/prefix).

The reference, version 1, is one JSON document in every payload format:

    {"kafkaToLambdaClaimCheck":{"version":1,"bucket":"<bucket>","key":"<prefix><sha256 hex>",
      "size":<bytes>,"sha256":"<hex>","replaces":"value"}}

- `native` and `legacy`: the document is the record's value (base64 in `native`, text in
  `legacy`), and the header `kafka-to-lambda-claim-check: 1` is added after the record's own;
  key, other headers, offset and timestamp are the record's. Powertools' Kafka models parse
  such a record like any other.
- `value`: the document is the payload; its top-level key tells it from a record's own value.

The stored object is the record's value as the function would have received it: the bytes as
fetched, or the JSON a schema registry decoded them to (SCHEMA_RECORD_FORMAT=JSON). Its key is
the prefix and the SHA-256 of those bytes, so a redelivered record overwrites its own object
with the same bytes and is never stored twice. Only the value goes by claim check: a record
whose key and headers alone, with the reference, exceed the limit stays undeliverable (keys
order and route records, so they travel as they are). A reader for functions:
examples/claim_checks.py.

The object is stored, server-side encrypted (SSE-S3, or SSE-KMS with
LARGE_RECORDS_KMS_KEY_ARN), and S3 has answered, before the invocation; a failed store is
retried with backoff, logged and counted, and the record's offset does not move meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from typing import Any, Final

from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError

from consumer.aws_lambda.aws_clients import open_client
from consumer.errors import ConfigurationError
from consumer.operations.counters import Counters
from consumer.records import Batch, DecodedRecord, KafkaRecord, RecordEncoder, UndeliverableRecord
from consumer.settings.backoff import Backoff
from consumer.settings.large_records import LargeRecordsLocation, parse_large_records
from consumer.settings.model import BridgeSettings

CLAIM_CHECK_VERSION: Final = 1
CLAIM_CHECK_FIELD: Final = "kafkaToLambdaClaimCheck"  # the document's one top-level key
CLAIM_CHECK_HEADER: Final = "kafka-to-lambda-claim-check"  # native and legacy: the flag
CLAIM_CHECK_HEADER_VALUE: Final = b"1"

log = logging.getLogger("consumer.claim_checks")


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """Where a record's value is stored, and what it is: the reference the function gets."""

    bucket: str
    key: str
    size: int  # bytes
    sha256: str  # hex

    def document(self) -> bytes:
        """The reference as the function receives it (see the module's docstring)."""
        reference = {
            "version": CLAIM_CHECK_VERSION,
            "bucket": self.bucket,
            "key": self.key,
            "size": self.size,
            "sha256": self.sha256,
            "replaces": "value",
        }
        return json.dumps({CLAIM_CHECK_FIELD: reference}, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class ClaimCheckedRecord:
    """A record whose value is the reference to its stored value, flagged by a header."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]]


def claim_checked(record: KafkaRecord, check: ClaimCheck) -> KafkaRecord:
    """`record` as it travels once its value is stored: the value replaced by the reference,
    the flag header added. A decoded record keeps its key's schema metadata, not its value's
    (the value is no longer written with that schema)."""
    document = check.document()
    headers = (*record.headers, (CLAIM_CHECK_HEADER, CLAIM_CHECK_HEADER_VALUE))
    if type(record) is DecodedRecord:
        return replace(
            record, value=document, value_json=document, value_schema=None, headers=headers
        )
    return ClaimCheckedRecord(
        record.topic,
        record.partition,
        record.offset,
        record.timestamp,
        record.timestamp_type,
        record.key,
        document,
        headers,
    )


BackOff = Callable[[float], Awaitable[None]]  # sleeps that long, or raises to give up


class ClaimChecks:
    """Stores the value of each claim-check batch's record, then encodes its reference.

    Invariant: a batch's fragment is set only after S3 answered its PutObject, so no
    invocation carries a reference to bytes that are not stored.
    """

    def __init__(
        self,
        client: Any,
        location: LargeRecordsLocation,
        kms_key_arn: str | None,
        encoder: RecordEncoder,
        max_payload_bytes: int,
        counters: Counters,
        backoff: Backoff,
    ) -> None:
        self._client = client
        self._location = location
        self._encryption: dict[str, str] = (
            {"ServerSideEncryption": "AES256"}
            if kms_key_arn is None
            else {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn}
        )
        self._encoder = encoder
        self._max_payload_bytes = max_payload_bytes
        self._counters = counters
        self._backoff = backoff
        self.description = location.uri

    async def check_in(self, batch: Batch, back_off: BackOff) -> str | None:
        """Stores the record's value and sets the batch's one fragment to its claim check;
        returns why the record is undeliverable instead, if even its claim check is too large.
        Retries a failed store for as long as `back_off` lets it."""
        record = batch.records[0]
        value = record.value or b""
        # 20 MB hashes in tens of milliseconds: off the event loop, which keeps delivering.
        digest = await asyncio.to_thread(lambda: hashlib.sha256(value).digest())
        check = ClaimCheck(
            self._location.bucket, self._location.prefix + digest.hex(), len(value), digest.hex()
        )
        try:
            fragment = self._encoder.encode_record(claim_checked(record, check))
        except UndeliverableRecord as error:
            return error.reason
        size = self._encoder.envelope_size(batch.topic, batch.partition) + len(fragment)
        if record.value is None or size > self._max_payload_bytes:
            return (
                f"record is too large for one invocation and its key and headers alone, with a "
                f"claim check for its value, encode to a {size}-byte payload, over the "
                f"{self._max_payload_bytes}-byte limit: only the value travels by claim check"
            )
        failures = 0
        while True:
            try:
                await self._store(value, check, digest)
                break
            except Exception as error:
                failures += 1
                self._counters.claim_check_write_failures += 1
                log.error(
                    "claim-check store failed; not committing past this record, retrying",
                    extra={
                        "fields": {
                            "large_records": self.description,
                            "topic": batch.topic,
                            "partition": batch.partition,
                            "offset": record.offset,
                            "error": f"{type(error).__name__}: {error}"[:500],
                            "failures": failures,
                        }
                    },
                )
                await back_off(self._backoff.delay_s(failures))
        self._counters.claim_checks_stored += 1
        log.info(
            "record stored for a claim check",
            extra={
                "fields": {
                    "large_records": self.description,
                    "topic": batch.topic,
                    "partition": batch.partition,
                    "offset": record.offset,
                    "size": check.size,
                }
            },
        )
        batch.fragments = [fragment]
        return None

    async def probe(self) -> None:
        """Stores the empty value's object, as any record with an empty value would be stored
        (content-addressed: the same key, the same bytes), so a missing bucket, a denied
        PutObject or an unusable KMS key is named at start-up, not at the first large record.
        S3 out of reach is only logged: a large record's store retries until it answers."""
        digest = hashlib.sha256(b"").digest()
        empty = ClaimCheck(self._location.bucket, self._location.prefix + digest.hex(), 0, "")
        try:
            await self._store(b"", empty, digest)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
                self._unreachable(error)
                return
            raise ConfigurationError(
                f"LARGE_RECORDS={self.description}: S3 refused a test object there "
                f"({code or status}: {error.response.get('Error', {}).get('Message', '')}"[:300]
                + "). Check that the bucket exists, that the task role may s3:PutObject under "
                "the prefix, and, with LARGE_RECORDS_KMS_KEY_ARN, kms:GenerateDataKey on the key."
            ) from None
        except Exception as error:  # endpoint out of reach: not a setting's fault
            self._unreachable(error)

    def _unreachable(self, error: Exception) -> None:
        log.warning(
            "claim-check location not reachable at start-up; large records wait for it",
            extra={
                "fields": {
                    "large_records": self.description,
                    "error": f"{type(error).__name__}: {error}"[:500],
                }
            },
        )

    async def _store(self, value: bytes, check: ClaimCheck, digest: bytes) -> None:
        await self._client.put_object(
            Bucket=check.bucket,
            Key=check.key,
            Body=value,
            ContentType="application/octet-stream",
            # S3 checks the bytes it received against the digest, and refuses a mismatch.
            ChecksumSHA256=base64.b64encode(digest).decode(),
            **self._encryption,
        )


async def open_claim_checks(
    settings: BridgeSettings,
    encoder: RecordEncoder,
    counters: Counters,
    resources: AsyncExitStack,
) -> ClaimChecks | None:
    """The claim-check store, its client closed with `resources`; None without LARGE_RECORDS."""
    if settings.large_records is None:
        return None
    client = await open_client(
        resources,
        "s3",
        settings,
        endpoint_url=settings.s3_endpoint_url,
        # The bridge retries a failed store itself, loudly, for as long as it takes; a 20 MB
        # body gets time to travel.
        config=AioConfig(retries={"total_max_attempts": 1}, connect_timeout=10, read_timeout=120),
    )
    checks = ClaimChecks(
        client,
        parse_large_records(settings.large_records),
        settings.large_records_kms_key_arn,
        encoder,
        settings.effective_batch_max_bytes,
        counters,
        settings.retry_backoff,
    )
    await checks.probe()
    return checks
