"""The failure settings: where dead letters go, and what a record the function keeps failing
leads to. A group of fields of `BridgeSettings` (model.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from consumer.settings.declarations import setting


class OnFailure(StrEnum):
    DLQ = "dlq"
    STALL = "stall"


class FailureSettings(BaseModel):
    """Dead letters, stalls and record ages."""

    dlq: str | None = setting(
        None,
        doc=(
            "Dead letters: `s3://bucket/prefix`, `kafka://topic` (same cluster and "
            "credentials) or `file://directory` (local runs; `file:///abs` or `file://rel`). "
            "Unset: records the function keeps failing stall their partition."
        ),
        stack="dlq",
        stack_doc=(
            "An existing dead-letter destination, s3://<bucket>/<prefix> or kafka://<topic>. "
            "Empty: the stack creates a bucket and uses s3://<bucket>/<dlqPrefix>."
        ),
        example="s3://<bucket>/<prefix>/",
    )
    on_failure: OnFailure | None = setting(
        None,
        doc=(
            "`dlq` (default when DLQ is set) or `stall` (keep retrying; nothing passes the record)."
        ),
        stack="onFailure",
        stack_default=OnFailure.DLQ.value,  # a stack always has a dead-letter destination
    )
    bisect_on_error: bool = setting(
        True,
        doc="Split a failing batch in halves to find the failing records.",
        stack="bisectOnError",
    )
    max_record_age_seconds: int | None = setting(
        None,
        ge=1,
        doc="Dead-letter a record still undelivered this long after it was written.",
        stack="maxRecordAgeSeconds",
    )
    s3_endpoint_url: str | None = setting(
        None,
        doc="S3 API endpoint for dead letters and claim checks, for local runs and tests.",
    )

    @property
    def failure_mode(self) -> OnFailure:
        if self.on_failure is not None:
            return self.on_failure
        return OnFailure.STALL if self.dlq is None else OnFailure.DLQ


@dataclass(frozen=True)
class DlqLocation:
    scheme: Literal["s3", "kafka", "file"]
    target: str  # the bucket, the topic, or the directory (relative to the working directory)
    prefix: str = ""  # S3 only: where objects go in the bucket, ending in "/" unless empty


def parse_dlq(location: str) -> DlqLocation:
    scheme, sep, rest = location.partition("://")
    if sep and scheme == "s3" and rest.split("/", 1)[0]:
        bucket, _, prefix = rest.partition("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return DlqLocation("s3", bucket, prefix)
    if sep and scheme == "kafka" and rest and "/" not in rest:
        return DlqLocation("kafka", rest)
    # file:///abs/dir is absolute; file://dir/sub is relative (not a host, as in RFC 8089).
    if sep and scheme == "file" and rest.strip("/"):
        return DlqLocation("file", rest)
    raise ValueError(
        f"DLQ={location!r} is not s3://bucket/prefix, kafka://topic or file://directory"
    )
