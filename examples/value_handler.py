"""A handler for PAYLOAD_FORMAT=value: the event is one record's value itself, any JSON value,
with nothing around it (no topic, offset or key), one record per invocation.

    python -m consumer.local --set PAYLOAD_FORMAT=value --produce 100 --until-drained

Returning normally means the record is delivered; raising retries it, then dead-letters it.
"""

from __future__ import annotations

import json
import threading
from typing import Any

_first_seen = threading.Event()


def shown(value: Any) -> str:
    """A sample record's number, or any other JSON value in short."""
    if isinstance(value, dict) and "n" in value:
        return f"n={value['n']}"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:59] + "…"


def handler(event: Any, context: Any) -> None:
    if not _first_seen.is_set():
        _first_seen.set()
        print(f"{context.function_name}: first value {shown(event)}")
