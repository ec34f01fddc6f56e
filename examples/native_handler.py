"""A handler for PAYLOAD_FORMAT=native (the default): the event Lambda's own Kafka trigger sends.

    python -m consumer.local --handler examples/native_handler.py:handler --produce 1000

The event holds records by "<topic>-<partition>", each with a base64 key and value. They are
read here with the names Powertools for AWS Lambda gives them (`KafkaEvent(event).records`,
`record.decoded_key`, `record.json_value`, …): with Powertools installed, replace the small
`KafkaEvent` below with

    from aws_lambda_powertools.utilities.data_classes import KafkaEvent

and the handler runs unchanged. The handler answers with `batchItemFailures`: the offsets of
records it could not process, which the bridge retries (here: none).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

_first_seen = threading.Event()


class KafkaEventRecord:
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def topic(self) -> str:
        return str(self._data["topic"])

    @property
    def partition(self) -> int:
        return int(self._data["partition"])

    @property
    def offset(self) -> int:
        return int(self._data["offset"])

    @property
    def decoded_key(self) -> bytes | None:
        key = self._data.get("key")  # absent when the record has no key
        return None if key is None else base64.b64decode(key)

    @property
    def value(self) -> str | None:
        return self._data.get("value")  # absent when the record has none (a tombstone)

    @property
    def decoded_value(self) -> bytes:
        return base64.b64decode(self._data.get("value", ""))

    @property
    def json_value(self) -> Any:
        return json.loads(self.decoded_value)

    @property
    def decoded_headers(self) -> dict[str, bytes | None]:
        return {
            # Java's signed bytes, as Lambda sends them; None for a header without a value.
            name: None if value is None else bytes(b % 256 for b in value)
            for header in self._data.get("headers", [])
            for name, value in header.items()
        }


class KafkaEvent:
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def bootstrap_servers(self) -> str:
        return str(self._data["bootstrapServers"])

    @property
    def records(self) -> Iterator[KafkaEventRecord]:
        for records in self._data["records"].values():
            for record in records:
                yield KafkaEventRecord(record)


def shown(value: Any) -> str:
    """A sample record's number, or any other JSON value in short."""
    if isinstance(value, dict) and "n" in value:
        return f"n={value['n']}"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:59] + "…"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for record in KafkaEvent(event).records:
        # Any JSON value (an object, a string, a number, null), or None for a tombstone.
        value = None if record.value is None else record.json_value
        if not _first_seen.is_set():
            _first_seen.set()
            key = (record.decoded_key or b"").decode()
            print(
                f"{context.function_name}: first record {record.topic}-{record.partition}"
                f"@{record.offset}, key {key!r}, value {shown(value)}, "
                f"headers {sorted(record.decoded_headers)}"
            )
    return {"batchItemFailures": []}
