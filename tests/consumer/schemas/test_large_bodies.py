"""A JSON Schema body too large to check on the event loop is checked in a thread, against
the real registry's schema: the loop keeps running meanwhile, and the record decodes as any."""

from __future__ import annotations

import asyncio
import json
import uuid
from contextlib import AsyncExitStack

from aiokafka.structs import ConsumerRecord

from consumer.records import DecodedRecord
from consumer.schemas.json_schema import INLINE_VALIDATION_BYTES
from consumer.schemas.record_decoding import LargeBody
from consumer.schemas.setup import open_schema_decoding
from consumer.settings.model import load_settings
from tests.support.schema_registry_server import SchemaRegistryServer
from tests.support.schema_serializers import json_schema_bytes

SCHEMA = json.dumps(
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"evidence": {"type": "array", "items": {"type": "string"}}},
    }
)


def record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t", 0, offset, 0, 0, None, value, None, -1, len(value), ())


async def test_a_large_json_schema_body_is_checked_while_the_event_loop_runs(
    schema_registry: SchemaRegistryServer,
) -> None:
    topic = f"large-{uuid.uuid4().hex[:8]}"
    small, large = [
        await asyncio.to_thread(json_schema_bytes, schema_registry.url, topic, SCHEMA, value)
        for value in ({"evidence": []}, {"evidence": [f"e{i:08d}" for i in range(60_000)]})
    ]
    assert len(large) > 8 * INLINE_VALIDATION_BYTES  # about half a second to check
    settings = load_settings(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
            "KAFKA_TOPIC": topic,
            "KAFKA_GROUP_ID": "g",
            "LAMBDA_FUNCTION_NAME": "f",
            "SCHEMA_REGISTRY_URL": schema_registry.url,
        }
    )
    records = [record(0, small), record(1, large), record(2, small)]
    async with AsyncExitStack() as resources:
        decoding = await open_schema_decoding(settings, resources)
        assert decoding is not None
        needed = decoding.decode_all(records)
        assert isinstance(needed, set)
        await decoding.resolve(needed)  # the schema
        needed = decoding.decode_all(records)
        assert isinstance(needed, set)
        assert [type(item) for item in needed] == [LargeBody], "only the large body waits"

        ticks = 0
        checked = asyncio.create_task(decoding.resolve(needed))
        while not checked.done():
            await asyncio.sleep(0.01)  # the event loop's own turns, counted while it checks
            ticks += 1
        await checked
        decoded = decoding.decode_all(records)

    assert ticks >= 5, "the loop kept running while the large body was checked"
    assert isinstance(decoded, list)
    assert [type(r) for r in decoded] == [DecodedRecord, DecodedRecord, DecodedRecord]
    assert decoded[1].value == large  # SOURCE: the bytes as written, now checked
