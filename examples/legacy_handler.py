"""A handler for PAYLOAD_FORMAT=legacy: the JSON array the replaced bridge sent, which the
existing curation functions read.

    python -m consumer.local --handler examples/legacy_handler.py:handler \\
        --set PAYLOAD_FORMAT=legacy --produce 1000 --until-drained

Each element is one record: `key` and `value` are text (UTF-8; null without one, and a
record without a value is a tombstone), `headers` a list of `{"<name>": "<base64>"}`, plus
`topic`, `partition`, `offset` and `timestamp`.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

_first_seen = threading.Event()


def headers_of(record: dict[str, Any]) -> dict[str, bytes | None]:
    return {
        name: None if value is None else base64.b64decode(value)  # None: a header without one
        for header in record["headers"]
        for name, value in header.items()
    }


def shown(value: Any) -> str:
    """A sample record's number, or any other JSON value in short."""
    if isinstance(value, dict) and "n" in value:
        return f"n={value['n']}"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:59] + "…"


def handler(event: list[dict[str, Any]], context: Any) -> dict[str, int]:
    for record in event:
        # Any JSON value (an object, a string, null), or None for a tombstone.
        value = None if record["value"] is None else json.loads(record["value"])
        if not _first_seen.is_set():
            _first_seen.set()
            print(
                f"{context.function_name}: first record {record['topic']}-{record['partition']}"
                f"@{record['offset']}, key {record['key']!r}, value {shown(value)}, "
                f"headers {sorted(headers_of(record))}"
            )
    return {"processed": len(event)}
