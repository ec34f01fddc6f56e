"""A handler for records too large for an invocation (LARGE_RECORDS=s3://bucket/prefix), in
PAYLOAD_FORMAT=native: each record's value is its own, or read back from S3 by its claim check.

    LARGE_RECORDS=s3://my-bucket/large-records/ \\
      python -m consumer.local --handler examples/large_records_handler.py:handler

`value_of` (examples/claim_checks.py, deployed next to this file) reads a claim check's object
and checks its size and SHA-256; a claim check that cannot be read or does not match is
reported in `batchItemFailures`, so the bridge retries the record and, in the end, dead-letters
it. `process` stands for your own work with the value; here it prints its size and digest,
never its contents. The function's role needs s3:GetObject on the prefix (docs/large-records.md).
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from claim_checks import ClaimCheckError, claim_check_of, value_of

# Where the bridge stores large records: a claim check pointing elsewhere is refused.
LOCATION = os.environ.get("LARGE_RECORDS")


def process(record: dict[str, Any], value: bytes | None, claim_checked: bool) -> None:
    """Your work with one record's value (None for a tombstone)."""
    size = 0 if value is None else len(value)
    digest = "" if value is None else hashlib.sha256(value).hexdigest()[:16]
    origin = "claim check" if claim_checked else "inline"
    where = f"{record['topic']}-{record['partition']}@{record['offset']}"
    print(f"{where}: {size} bytes ({origin}) {digest}")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failed = []
    for records in event["records"].values():
        for record in records:
            try:
                claim_checked = claim_check_of(record) is not None
                value = value_of(record, location=LOCATION)
            except ClaimCheckError as refused:
                print(f"{record['topic']}-{record['partition']}@{record['offset']}: {refused}")
                failed.append({"itemIdentifier": str(record["offset"])})
                continue
            process(record, value, claim_checked)
    return {"batchItemFailures": failed}
