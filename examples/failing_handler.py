"""A handler that fails on records whose value contains "poison": retries and dead letters.

    python -m consumer.local --handler examples/failing_handler.py:handler \\
        --produce 2000 --poison 1 --until-drained

An invocation holding a marked record raises. The bridge retries the batch MAX_RETRIES
times (and, outside the local mode, for RETRY_FUNCTION_ERRORS_FOR_SECONDS), then splits it
in halves (BISECT_ON_ERROR) until the marked record is alone, and writes it to the dead
letter (`--local-dlq`, default ./dead-letters/<topic>/<partition>/<offset>-<writer>.json)
with the error; every other record is delivered. Reads the `native` format (the default).
"""

from __future__ import annotations

import base64
from typing import Any

MARKER = b"poison"


class PoisonRecordError(Exception):
    """The record carries the marker: this function cannot process it."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for records in event["records"].values():
        for record in records:
            if MARKER in base64.b64decode(record.get("value", "")):
                raise PoisonRecordError(
                    f"record {record['topic']}-{record['partition']}@{record['offset']} "
                    "carries the poison marker"
                )
    return {"batchItemFailures": []}
