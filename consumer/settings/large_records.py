"""The large-record settings: where a record too large for one invocation is stored, so it
travels as a claim check (consumer/payloads/claim_checks.py). A group of fields of
`BridgeSettings` (model.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, field_validator, model_validator

from consumer.settings.declarations import SettingRuleError, setting

# S3's rules for a bucket name: 3-63 lower-case letters, digits, dots and hyphens.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# What the stored object's key adds to the prefix: 64 hex digits.
SHA256_HEX_CHARS = 64
S3_MAX_KEY_BYTES = 1024
_KMS_KEY_ARN = re.compile(r"^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")


class LargeRecordSettings(BaseModel):
    """Claim checks for records over the invocation limit."""

    large_records: str | None = setting(
        None,
        doc=(
            "`s3://bucket/prefix`: a record too large for one invocation is stored there and "
            "the function gets a claim check in its place. Unset: such a record is "
            "dead-lettered (or stalls) as undeliverable."
        ),
        stack="largeRecords",
        stack_doc=(
            "An existing claim-check location, s3://<bucket>/<prefix> (its lifecycle is "
            "yours). Empty and largeRecordsBucket true: the stack creates a bucket."
        ),
        example="s3://<bucket>/<prefix>/",
    )
    large_records_kms_key_arn: str | None = setting(
        None,
        doc=(
            "A customer KMS key (ARN) the claim-check objects are encrypted with (SSE-KMS). "
            "Unset: SSE-S3 (AES256)."
        ),
        stack="largeRecordsKmsKeyArn",
        example="arn:aws:kms:<region>:<account>:key/<id>",
    )

    @field_validator("large_records")
    @classmethod
    def _check_location(cls, value: str | None) -> str | None:
        if value is not None:
            parse_large_records(value)
        return value

    @field_validator("large_records_kms_key_arn")
    @classmethod
    def _check_key(cls, value: str | None) -> str | None:
        if value is not None and not _KMS_KEY_ARN.match(value):
            raise ValueError("use a KMS key ARN, arn:aws:kms:<region>:<account>:key/<key id>")
        return value

    @model_validator(mode="after")
    def _check_key_has_a_location(self) -> LargeRecordSettings:
        if self.large_records_kms_key_arn is not None and self.large_records is None:
            raise SettingRuleError(
                "large_records_kms_key_arn",
                "LARGE_RECORDS_KMS_KEY_ARN encrypts claim checks: it needs LARGE_RECORDS",
            )
        return self


@dataclass(frozen=True)
class LargeRecordsLocation:
    bucket: str
    prefix: str  # ends in "/" unless empty; a stored object's key is prefix + sha256 hex

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_large_records(location: str) -> LargeRecordsLocation:
    """`s3://bucket/prefix` → its parts; ValueError with the fix for anything else."""
    scheme, sep, rest = location.partition("://")
    bucket, _, prefix = rest.partition("/")
    if not (sep and scheme == "s3" and _BUCKET.match(bucket)):
        raise ValueError(
            f"{location!r} is not s3://bucket/prefix (a bucket name of 3-63 lower-case "
            "letters, digits, dots and hyphens)"
        )
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if len(prefix.encode()) + SHA256_HEX_CHARS > S3_MAX_KEY_BYTES:
        raise ValueError(
            f"the prefix is {len(prefix.encode())} bytes: with the 64-character digest it "
            f"must fit S3's {S3_MAX_KEY_BYTES}-byte keys; use a shorter prefix"
        )
    return LargeRecordsLocation(bucket, prefix)
