"""A handler that answers record by record, for RESPONSE_TOPIC (docs/answers.md).

    python -m consumer.local --handler examples/answering_handler.py:handler \\
        --response-topic answers --produce 1000

It returns one result per record it processed, named by the record's offset as
`batchItemFailures` names a failed one:

    {"results": [{"itemIdentifier": "<offset>", "value": <any JSON>}, ...],
     "batchItemFailures": [{"itemIdentifier": "<offset>"}, ...]}

The bridge produces each result as a record of its own on RESPONSE_TOPIC, keyed by its source
record's key, so the answers of one key stay in order there too. A string value travels as
its text, `null` as a tombstone, anything else as its JSON. Here each answer says how long
the record's value was and echoes its `n` when it has one. The event is Lambda's own Kafka
event (PAYLOAD_FORMAT=native); Powertools' `KafkaEvent` reads it as well.
"""

from __future__ import annotations

import base64
import json
from typing import Any


def answer_to(value: bytes | None) -> Any:
    """What this handler answers for one record's value (None for a tombstone)."""
    if value is None:
        return None  # a tombstone answers a tombstone
    answer: dict[str, Any] = {"length": len(value)}
    try:
        parsed = json.loads(value)
    except ValueError:
        return answer
    if isinstance(parsed, dict) and "n" in parsed:
        answer["n"] = parsed["n"]
    return answer


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    results = []
    for records in event["records"].values():
        for record in records:
            value = record.get("value")  # absent for a tombstone
            decoded = None if value is None else base64.b64decode(value)
            results.append({"itemIdentifier": str(record["offset"]), "value": answer_to(decoded)})
    return {"results": results, "batchItemFailures": []}
