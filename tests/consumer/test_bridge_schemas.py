"""Schema-registry records end to end: the real broker, the real registries (Apicurio speaking
Confluent's API; Glue's API on moto), records written as those registries' serializers write
them, the local Lambda, and a function reading them with Powertools' Kafka utilities.

The function must get the source objects as JSON (compared with the objects the producer was
given, not with a re-encoding), with Lambda's schema metadata; what cannot be decoded is
dead-lettered with the reason; a registry that goes away holds records back, loses none and
dead-letters none; wrong credentials stop the bridge at start-up with one line.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aws_lambda_powertools.utilities.kafka import ConsumerRecords, SchemaConfig, kafka_consumer

from consumer.bridge import Bridge
from consumer.local import FunctionSpec, LocalLambda
from consumer.redrive.run import Selection
from consumer.redrive.run import run as redrive
from consumer.settings.model import load_settings
from tests.support.bridge_harness import (
    FUNCTION,
    bridge_environment,
    run_to_exit,
    running_bridge,
    the_error,
    until,
)
from tests.support.glue_serializers import GlueProducer
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import Produced, TestRecord
from tests.support.moto_fixtures import MotoServer
from tests.support.proto_messages import compile_proto_messages
from tests.support.schema_registry_fixtures import REGISTRY_USER
from tests.support.schema_registry_server import SchemaRegistryServer
from tests.support.schema_serializers import (
    avro_bytes,
    json_schema_bytes,
    protobuf_bytes,
    wire_schema_id,
)
from tests.support.tcp_proxy import proxy_to

VARIANT_AVSC = json.dumps(
    {
        "type": "record",
        "name": "Variant",
        "namespace": "org.curation",
        "fields": [
            {"name": "id", "type": "string"},
            {
                "name": "kind",
                "type": {"type": "enum", "name": "Kind", "symbols": ["ALLELE", "GENE"]},
            },
            {"name": "position", "type": "long"},
            {"name": "note", "type": ["null", "string"], "default": None},
        ],
    }
)
# v2 adds a field with a default: records written with v1 keep decoding with v1.
VARIANT_V2_AVSC = json.dumps(
    {
        **json.loads(VARIANT_AVSC),
        "fields": [
            *json.loads(VARIANT_AVSC)["fields"],
            {"name": "curator", "type": "string", "default": "unknown"},
        ],
    }
)
VARIANT_KEY_JSON_SCHEMA = json.dumps(
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "VariantKey",
        "type": "object",
        "properties": {"id": {"type": "string"}},
        "required": ["id"],
    }
)
ASSERTION_PROTO = """
syntax = "proto3";
package curation;
import "google/protobuf/timestamp.proto";

message Assertion {
  enum Level { LEVEL_UNSPECIFIED = 0; PATHOGENIC = 1; BENIGN = 2; }
  string variant_id = 1;
  Level level = 2;
  repeated string evidence = 3;
  google.protobuf.Timestamp asserted_at = 4;
}
"""


def variant(i: int) -> dict[str, Any]:
    return {
        "id": f"v-{i}",
        "kind": "ALLELE" if i % 2 == 0 else "GENE",
        "position": 10_000_000_000 + i,  # a long: beyond 32 bits
        "note": None if i % 3 == 0 else f"nöte {i}",
    }


class EventSink:
    """A Lambda handler keeping every record of every native event it is given, as sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[dict[str, Any]] = []

    def __call__(self, event: Any, context: object) -> None:
        records = (
            [r for batch in event["records"].values() for r in batch]
            if isinstance(event, dict)
            else event  # the legacy format: a JSON array of records
        )
        with self._lock:
            self.records.extend(records)

    def count(self) -> int:
        with self._lock:
            return len(self.records)


def schema_bridge(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic: str,
    registry_url: str,
    **settings: object,
) -> dict[str, str]:
    group = f"g-{uuid.uuid4().hex[:8]}"
    return bridge_environment(
        kafka, local_lambda.url, topic, group, schema_registry_url=registry_url, **settings
    )


async def run_bridge_until(env: dict[str, str], done: Callable[[Bridge], bool]) -> Bridge:
    """Runs a bridge until `done(bridge)`, then stops it (draining, committing); the bridge."""
    async with running_bridge(env) as running:
        await until(lambda: done(running.bridge))
        await running.stopped()
    return running.bridge


def dead_letters_in(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*/*/*.json"))]


def json_of(encoded: str) -> Any:
    return json.loads(base64.b64decode(encoded))


async def produce_variants(
    kafka: KafkaUnderTest, registry: str, topic: str, count: int, partitions: int = 2
) -> list[Produced]:
    records = [
        TestRecord(
            key=f"v-{i % 7}".encode(),
            value=await asyncio.to_thread(avro_bytes, registry, topic, VARIANT_AVSC, variant(i)),
            partition=i % partitions,
        )
        for i in range(count)
    ]
    return await kafka.produce(topic, records)


@pytest.mark.parametrize("payload_format", ["native", "legacy"])
async def test_avro_values_reach_the_function_as_the_source_objects_in_json(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    schema_registry: SchemaRegistryServer,
    payload_format: str,
) -> None:
    await kafka.create_topic(topic_name, partitions=2)
    produced = await produce_variants(kafka, schema_registry.url, topic_name, 40)
    schema_id = wire_schema_id(produced[0].record.value or b"")
    sink = EventSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    env = schema_bridge(
        kafka,
        local_lambda,
        topic_name,
        schema_registry.url,
        schema_record_format="JSON",
        payload_format=payload_format,
    )

    await run_bridge_until(env, lambda _: sink.count() >= len(produced))

    by_offset = {(r["partition"], r["offset"]): r for r in sink.records}
    for i, p in enumerate(produced):
        record = by_offset[(p.partition, p.offset)]
        if payload_format == "native":
            assert json_of(record["value"]) == variant(i)
            assert record["valueSchemaMetadata"] == {
                "dataFormat": "JSON",  # what the function gets: Powertools reads it so
                "schemaId": str(schema_id),
            }
            assert "keySchemaMetadata" not in record, "the key is not decoded: SCHEMA_DECODE"
            assert base64.b64decode(record["key"]) == p.record.key
        else:
            assert json.loads(record["value"]) == variant(i)  # legacy: the JSON text itself
            assert record["key"] == (p.record.key or b"").decode()


async def test_source_format_sends_the_bytes_as_written_and_filters_match_the_decoded_json(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    schema_registry: SchemaRegistryServer,
) -> None:
    await kafka.create_topic(topic_name, partitions=2)
    produced = await produce_variants(kafka, schema_registry.url, topic_name, 30)
    alleles = [(i, p) for i, p in enumerate(produced) if variant(i)["kind"] == "ALLELE"]
    sink = EventSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    env = schema_bridge(
        kafka,
        local_lambda,
        topic_name,
        schema_registry.url,
        filter_patterns='[{"value": {"kind": ["ALLELE"]}}]',
    )

    async with running_bridge(env) as running:
        await until(lambda: running.bridge.counters.records_filtered == 30 - len(alleles))
        await until(lambda: sink.count() >= len(alleles))
        await running.stopped()

    assert sorted((r["partition"], r["offset"]) for r in sink.records) == sorted(
        (p.partition, p.offset) for _, p in alleles
    )
    sent = {(r["partition"], r["offset"]): base64.b64decode(r["value"]) for r in sink.records}
    for _, p in alleles:
        assert sent[(p.partition, p.offset)] == p.record.value, "SOURCE: the bytes as written"
    assert {r["valueSchemaMetadata"]["dataFormat"] for r in sink.records} == {"AVRO"}


async def test_keys_in_json_schema_and_values_in_protobuf_decode_together(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    schema_registry: SchemaRegistryServer,
) -> None:
    await kafka.create_topic(topic_name, partitions=1)
    assertion_type = compile_proto_messages({"curation/assertion.proto": ASSERTION_PROTO})[
        "curation.Assertion"
    ]
    sources = []
    for i in range(12):
        message = assertion_type(
            variant_id=f"v-{i}", level=1 + i % 2, evidence=[f"pmid:{i}", "clinvar"]
        )
        message.asserted_at.FromSeconds(1_700_000_000 + i)
        key = {"id": f"v-{i}"}
        sources.append((key, i))
        key_bytes = await asyncio.to_thread(
            json_schema_bytes,
            schema_registry.url,
            topic_name,
            VARIANT_KEY_JSON_SCHEMA,
            key,
            is_key=True,
        )
        value_bytes = await asyncio.to_thread(
            protobuf_bytes, schema_registry.url, topic_name, message
        )
        await kafka.produce(topic_name, [TestRecord(key=key_bytes, value=value_bytes)])
    sink = EventSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    env = schema_bridge(
        kafka,
        local_lambda,
        topic_name,
        schema_registry.url,
        schema_decode="both",
        schema_record_format="JSON",
    )

    await run_bridge_until(env, lambda _: sink.count() >= len(sources))

    records = sorted(sink.records, key=lambda r: r["offset"])
    for record, (key, i) in zip(records, sources, strict=True):
        assert json_of(record["key"]) == key
        assert record["keySchemaMetadata"]["dataFormat"] == "JSON"
        assert record["valueSchemaMetadata"]["dataFormat"] == "JSON"
        value = json_of(record["value"])
        assert value["evidence"] == [f"pmid:{i}", "clinvar"]
        assert value["level"] == ("PATHOGENIC" if i % 2 == 0 else "BENIGN")
        assert value["assertedAt" if "assertedAt" in value else "asserted_at"] == (
            f"2023-11-14T22:13:{20 + i:02d}Z"
        )


async def test_records_that_cannot_be_decoded_are_dead_lettered_with_the_reason(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    schema_registry: SchemaRegistryServer,
    tmp_path: Path,
) -> None:
    await kafka.create_topic(topic_name, partitions=1)
    good = await asyncio.to_thread(
        avro_bytes, schema_registry.url, topic_name, VARIANT_AVSC, variant(1)
    )
    unknown_id = b"\x00" + (2**31 - 7).to_bytes(4, "big") + good[5:]
    not_framed = b"\x07plain bytes, no registry framing"
    truncated = good[:-4]
    produced = await kafka.produce(
        topic_name,
        [TestRecord(value=v) for v in (good, unknown_id, not_framed, truncated, good)],
    )
    sink = EventSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    group = f"g-{uuid.uuid4().hex[:8]}"
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        group,
        schema_registry_url=schema_registry.url,
        dlq=f"file://{tmp_path}",
    )

    await run_bridge_until(
        env, lambda bridge: bridge.counters.dead_lettered == 3 and sink.count() == 2
    )

    assert sorted(r["offset"] for r in sink.records) == [0, 4]
    letters = {doc["record"]["offset"]: doc for doc in dead_letters_in(tmp_path)}
    assert sorted(letters) == [1, 2, 3]
    reasons = {offset: doc["error"]["message"] for offset, doc in letters.items()}
    assert f"schema id {2**31 - 7}" in reasons[1]
    assert reasons[2].startswith("value: ")
    assert "magic byte" in reasons[2]
    assert reasons[3].startswith("value: ")
    for offset, doc in letters.items():
        assert doc["error"]["type"] == "Undeliverable"
        assert base64.b64decode(doc["record"]["value"]) == produced[offset].record.value, (
            "a dead letter keeps the bytes as fetched"
        )
    assert await kafka.committed_offsets(group, topic_name) == {0: 5}


async def test_a_registry_gone_mid_stream_holds_records_back_and_loses_and_dead_letters_none(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    schema_registry: SchemaRegistryServer,
    tmp_path: Path,
) -> None:
    await kafka.create_topic(topic_name, partitions=2)
    first = await produce_variants(kafka, schema_registry.url, topic_name, 10)
    sink = EventSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    registry = urlsplit(schema_registry.url)
    assert registry.hostname is not None
    assert registry.port is not None
    group = f"g-{uuid.uuid4().hex[:8]}"

    async with proxy_to(registry.hostname, registry.port) as proxy:
        env = bridge_environment(
            kafka,
            local_lambda.url,
            topic_name,
            group,
            schema_registry_url=f"http://127.0.0.1:{proxy.port}{registry.path}",
            schema_record_format="JSON",
            dlq=f"file://{tmp_path}",
            retry_backoff_max_ms=200,
        )
        async with running_bridge(env) as running:
            await until(lambda: sink.count() >= len(first))
            proxy.down()
            # Written with a schema version the bridge has not seen: it must ask the registry.
            second = [
                TestRecord(
                    key=f"v-{i}".encode(),
                    value=await asyncio.to_thread(
                        avro_bytes,
                        schema_registry.url,
                        topic_name,
                        VARIANT_V2_AVSC,
                        {**variant(i), "curator": "ana"},
                    ),
                    partition=i % 2,
                )
                for i in range(10, 30)
            ]
            later = await kafka.produce(topic_name, second)
            schemas = running.bridge.schemas
            assert schemas is not None
            await until(lambda: schemas.decoders.retries >= 3)
            assert running.bridge.counters.dead_lettered == 0
            assert sink.count() == len(first), "nothing passes a record held for its schema"
            committed = await kafka.committed_offsets(group, topic_name)
            assert all(committed.get(p.partition, 0) <= p.offset for p in later), (
                "nothing is committed at or past a held record"
            )
            proxy.up()
            await until(lambda: sink.count() >= len(first) + len(later))
            await running.stopped()

    assert running.bridge.counters.dead_lettered == 0
    assert not dead_letters_in(tmp_path)
    delivered = {(r["partition"], r["offset"]): json_of(r["value"]) for r in sink.records}
    for p in later:
        assert delivered[(p.partition, p.offset)]["curator"] == "ana"
    for i, p in enumerate(first):
        assert delivered[(p.partition, p.offset)] == variant(i), "v1 records keep v1's shape"


async def test_records_of_many_partitions_waiting_on_one_new_schema_cause_one_lookup(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    schema_registry: SchemaRegistryServer,
) -> None:
    await kafka.create_topic(topic_name, partitions=6)
    produced = await produce_variants(kafka, schema_registry.url, topic_name, 300, partitions=6)
    sink = EventSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    env = schema_bridge(kafka, local_lambda, topic_name, schema_registry.url)

    bridge = await run_bridge_until(env, lambda _: sink.count() >= len(produced))

    assert bridge.schemas is not None
    assert bridge.schemas.decoders.fetches == 1, "one schema, one registry lookup"


async def test_wrong_registry_credentials_stop_the_bridge_at_start_up_with_one_line(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    schema_registry_with_basic_auth: SchemaRegistryServer,
) -> None:
    await kafka.create_topic(topic_name)
    local_lambda.add_function(FunctionSpec(FUNCTION, EventSink()))
    wrong_secret = "not-the-secret-9Xq"
    env = schema_bridge(
        kafka,
        local_lambda,
        topic_name,
        schema_registry_with_basic_auth.url,
        schema_registry_key=REGISTRY_USER.username,
        schema_registry_secret=wrong_secret,
    )

    code, lines = await run_to_exit(env)

    assert code == 3
    error = the_error(lines)
    assert error.startswith("SCHEMA_REGISTRY_KEY/SCHEMA_REGISTRY_SECRET:")
    assert "HTTP 401" in error
    assert wrong_secret not in json.dumps(lines)


async def test_glue_records_decode_through_the_registry_arn_compressed_or_not(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    moto_server: MotoServer,
) -> None:
    await kafka.create_topic(topic_name, partitions=2)
    schema = json.loads(VARIANT_AVSC)
    with GlueProducer(moto_server) as glue:
        records = [
            TestRecord(
                key=f"v-{i}".encode(),
                value=glue.avro(topic_name, variant(i), schema, compress=i % 2 == 1),
                partition=i % 2,
            )
            for i in range(20)
        ]
        produced = await kafka.produce(topic_name, records)
        sink = EventSink()
        local_lambda.add_function(FunctionSpec(FUNCTION, sink))
        group = f"g-{uuid.uuid4().hex[:8]}"
        env = bridge_environment(
            kafka,
            local_lambda.url,
            topic_name,
            group,
            glue_schema_registry_arn=glue.registry_arn,
            glue_endpoint_url=moto_server.endpoint_url,
            schema_record_format="JSON",
        )
        await run_bridge_until(env, lambda _: sink.count() >= len(produced))

    by_offset = {(r["partition"], r["offset"]): r for r in sink.records}
    for i, p in enumerate(produced):
        record = by_offset[(p.partition, p.offset)]
        assert json_of(record["value"]) == variant(i)
        metadata = record["valueSchemaMetadata"]
        assert metadata["dataFormat"] == "JSON"
        assert metadata["schemaId"] == str(uuid.UUID(bytes=(p.record.value or b"")[2:18]))


async def test_powertools_kafka_utilities_read_the_decoded_records(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    schema_registry: SchemaRegistryServer,
) -> None:
    await kafka.create_topic(topic_name)
    produced = await produce_variants(kafka, schema_registry.url, topic_name, 8, partitions=1)
    values: list[Any] = []
    lock = threading.Lock()

    @kafka_consumer(schema_config=SchemaConfig(value_schema_type="JSON"))
    def handler(event: ConsumerRecords, context: object) -> None:
        with lock:
            values.extend(record.value for record in event.records)

    def count() -> int:
        with lock:
            return len(values)

    local_lambda.add_function(FunctionSpec(FUNCTION, handler))
    env = schema_bridge(
        kafka, local_lambda, topic_name, schema_registry.url, schema_record_format="JSON"
    )

    await run_bridge_until(env, lambda _: count() >= len(produced))

    assert values == [variant(i) for i in range(len(produced))]


async def test_redrive_decodes_the_dead_letters_bytes_again_for_the_fixed_function(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    schema_registry: SchemaRegistryServer,
    tmp_path: Path,
) -> None:
    await kafka.create_topic(topic_name)
    produced = await produce_variants(kafka, schema_registry.url, topic_name, 3, partitions=1)

    def broken(event: Any, context: object) -> None:
        raise RuntimeError("the function is broken until fixed")

    local_lambda.add_function(FunctionSpec(FUNCTION, broken))
    env = schema_bridge(
        kafka,
        local_lambda,
        topic_name,
        schema_registry.url,
        schema_record_format="JSON",
        dlq=f"file://{tmp_path}",
        max_retries=0,
        retry_function_errors_for_seconds=0,
        batch_size=1,
    )
    await run_bridge_until(env, lambda bridge: bridge.counters.dead_lettered == len(produced))
    letters = dead_letters_in(tmp_path)
    assert sorted(base64.b64decode(d["record"]["value"]) for d in letters) == sorted(
        p.record.value or b"" for p in produced
    ), "dead letters keep the bytes as written"

    fixed = EventSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, fixed))
    everything = Selection(None, None, frozenset())
    assert await redrive(load_settings(env), everything, dry_run=False) == 0

    assert sorted((r["offset"], json_of(r["value"])["id"]) for r in fixed.records) == [
        (p.offset, variant(i)["id"]) for i, p in enumerate(produced)
    ]


ORDER_AVSC = json.dumps(
    {
        "type": "record",
        "name": "Order",
        "namespace": "shop",
        "fields": [
            {"name": "id", "type": "string"},
            {"name": "cents", "type": "long"},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
        ],
    }
)
ORDER_JSON_SCHEMA = json.dumps(
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Order",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "cents": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["id", "cents"],
    }
)
ORDER_PROTO = """
syntax = "proto3";
package shop;
message Order { string id = 1; int32 cents = 2; repeated string tags = 3; }
"""


def order(i: int, part: str) -> dict[str, Any]:
    return {"id": f"{part}-{i}", "cents": 100 * i + 1, "tags": ["a", part]}


def framed(registry: str, topic: str, data_format: str, obj: dict[str, Any], is_key: bool) -> bytes:
    """`obj` written by Confluent's serializer of `data_format`, as a key or a value."""
    if data_format == "AVRO":
        return avro_bytes(registry, topic, ORDER_AVSC, obj, is_key=is_key)
    if data_format == "JSON":
        return json_schema_bytes(registry, topic, ORDER_JSON_SCHEMA, obj, is_key=is_key)
    message_type = compile_proto_messages({"shop/order.proto": ORDER_PROTO})["shop.Order"]
    return protobuf_bytes(registry, topic, message_type(**obj), is_key=is_key)


@pytest.mark.parametrize("payload_format", ["native", "legacy"])
@pytest.mark.parametrize("data_format", ["AVRO", "PROTOBUF", "JSON"])
async def test_keys_and_values_of_each_format_reach_the_function_as_their_source_objects(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    schema_registry: SchemaRegistryServer,
    data_format: str,
    payload_format: str,
) -> None:
    await kafka.create_topic(topic_name)
    url = schema_registry.url
    sources = [(order(i, "key"), order(i, "value")) for i in range(6)]
    records = [
        TestRecord(
            key=await asyncio.to_thread(framed, url, topic_name, data_format, key, True),
            value=await asyncio.to_thread(framed, url, topic_name, data_format, value, False),
        )
        for key, value in sources
    ]
    await kafka.produce(topic_name, records)
    sink = EventSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    env = schema_bridge(
        kafka,
        local_lambda,
        topic_name,
        url,
        schema_decode="both",
        schema_record_format="JSON",
        payload_format=payload_format,
    )

    await run_bridge_until(env, lambda _: sink.count() >= len(sources))

    def as_object(part: str) -> Any:
        return json.loads(part) if payload_format == "legacy" else json_of(part)

    got = [
        (as_object(r["key"]), as_object(r["value"]))
        for r in sorted(sink.records, key=lambda r: r["offset"])
    ]
    assert got == sources  # Protobuf too: int32 is a JSON number, repeated a list


async def test_with_on_failure_stall_an_undecodable_record_holds_its_partitions_commit(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    schema_registry: SchemaRegistryServer,
) -> None:
    await kafka.create_topic(topic_name)
    good = [
        await asyncio.to_thread(
            avro_bytes, schema_registry.url, topic_name, VARIANT_AVSC, variant(i)
        )
        for i in range(2)
    ]
    await kafka.produce(
        topic_name,
        [
            TestRecord(key=b"a", value=good[0]),
            TestRecord(key=b"b", value=b"\x00\x7f\xff\xff\xf0no such schema"),
            TestRecord(key=b"c", value=good[1]),
        ],
    )
    sink = EventSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    group = f"g-{uuid.uuid4().hex[:8]}"
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        group,
        schema_registry_url=schema_registry.url,
        shutdown_timeout_seconds=1,
    )  # no DLQ: a record that cannot be delivered stalls (ON_FAILURE=stall)

    # The other keys flow past it; the last commit, at the stop, cannot pass it.
    bridge = await run_bridge_until(env, lambda _: sink.count() == 2)

    assert sorted(r["offset"] for r in sink.records) == [0, 2]
    assert bridge.counters.dead_lettered == 0
    assert await kafka.committed_offsets(group, topic_name) == {0: 1}


CURATION_JSON_SCHEMA = json.dumps(
    {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Curation",
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "evidence": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["id"],
    }
)


async def test_a_json_schema_record_too_large_to_check_on_the_event_loop_arrives_in_order(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    schema_registry: SchemaRegistryServer,
) -> None:
    """Checking a JSON value against its schema takes about 1 ms per KiB in Python: a value
    over 64 KiB is checked in a thread, its partition held meanwhile, and arrives in order."""
    await kafka.create_topic(topic_name, partitions=1)
    values = [
        {"id": "small-1", "evidence": ["e"]},
        {"id": "large", "evidence": [f"pmid:{i:09d}" for i in range(20_000)]},  # ~340 KiB
        {"id": "small-2", "evidence": []},
    ]
    framed = [
        await asyncio.to_thread(
            json_schema_bytes, schema_registry.url, topic_name, CURATION_JSON_SCHEMA, value
        )
        for value in values
    ]
    assert len(framed[1]) > 256 * 1024
    await kafka.produce(topic_name, [TestRecord(value=v, partition=0) for v in framed])
    sink = EventSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    env = schema_bridge(
        kafka, local_lambda, topic_name, schema_registry.url, schema_record_format="JSON"
    )

    bridge = await run_bridge_until(env, lambda bridge: sink.count() == 3)

    assert [json_of(record["value"])["id"] for record in sink.records] == [
        "small-1",
        "large",
        "small-2",
    ]
    assert json_of(sink.records[1]["value"]) == values[1]
    assert bridge.counters.dead_lettered == 0
