"""Records too large for an invocation (LARGE_RECORDS): stored in S3 before the invocation,
delivered as a claim check in every payload format, read back byte for byte by the reader in
examples/claim_checks.py; nothing committed past such a record while S3 is down."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import threading
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import aioboto3
import boto3
import pytest
from aws_lambda_powertools.utilities.kafka import ConsumerRecords, kafka_consumer

from consumer.local import FunctionSpec, LocalLambda
from consumer.local.handlers import load_handler
from consumer.payloads.claim_checks import CLAIM_CHECK_FIELD, CLAIM_CHECK_HEADER
from tests.support.bridge_harness import (
    FUNCTION,
    REPO,
    bridge_environment,
    run_to_exit,
    running_bridge,
    the_error,
    until,
)
from tests.support.claim_check_reader import claim_check_reader
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import Produced, TestRecord
from tests.support.moto_fixtures import MotoServer

pytestmark = pytest.mark.usefixtures("aws_test_credentials")

LARGE_BYTES = 20 * 1024 * 1024
# The topic and the producer take a 20 MB record; the test broker's message.max.bytes is
# Kafka's default (about 1 MB), which a topic's max.message.bytes overrides.
TOPIC_CONFIGS = {"max.message.bytes": str(LARGE_BYTES + 1024 * 1024)}
MAX_REQUEST_BYTES = LARGE_BYTES + 1024 * 1024
PREFIX = "claims/"


def large_json_value() -> bytes:
    """A JSON value of about 20 MB (valid for every payload format), unlike any other."""
    text = base64.b64encode(os.urandom(LARGE_BYTES * 3 // 4 - 64)).decode()
    return json.dumps({"sequence": text}).encode()


def records_around(large: bytes) -> list[TestRecord]:
    """Key a: a small record, the large one, a small one; key b: one small record."""
    return [
        TestRecord(key=b"a", value=b'{"n": 0}', partition=0),
        TestRecord(key=b"a", value=large, partition=0, headers=[("trace", b"t-1")]),
        TestRecord(key=b"a", value=b'{"n": 2}', partition=0),
        TestRecord(key=b"b", value=b'{"n": 3}', partition=0),
    ]


def claim_check_environment(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto: MotoServer,
    bucket: str,
    topic: str,
    group: str,
    **overrides: Any,
) -> dict[str, str]:
    return bridge_environment(
        kafka,
        local_lambda.url,
        topic,
        group,
        large_records=f"s3://{bucket}/{PREFIX}",
        s3_endpoint_url=moto.endpoint_url,
        commit_interval_ms=50,
        **overrides,
    )


class Seen:
    """What the function read of each record: (offset, key, value, claim-checked), in
    arrival order, and the offsets of each invocation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[tuple[int, bytes | None, bytes | None, bool]] = []
        self.invocations: list[list[int]] = []

    def add(self, batch: list[tuple[int, bytes | None, bytes | None, bool]]) -> None:
        with self._lock:
            self.records.extend(batch)
            self.invocations.append([offset for offset, *_ in batch])

    def count(self) -> int:
        with self._lock:
            return len({offset for offset, *_ in self.records})


def assert_read_back(seen: Seen, produced: list[Produced]) -> None:
    """Every record arrived once, the large one alone and as a claim check whose stored bytes
    are the record's, byte for byte; key a in offset order."""
    large = produced[1]
    by_offset = {offset: (key, value, checked) for offset, key, value, checked in seen.records}
    assert set(by_offset) == {p.offset for p in produced}
    for p in produced:
        key, value, checked = by_offset[p.offset]
        assert (key, checked) == (p.record.key, p is large)
        assert value is not None
        assert p.record.value is not None
        assert hashlib.sha256(value).digest() == hashlib.sha256(p.record.value).digest()
        assert value == p.record.value
    assert [large.offset] in seen.invocations, "the large record travels alone"
    order_a = [offset for offset, key, *_ in seen.records if key == b"a"]
    assert order_a == sorted(order_a)


def dead_letter_files(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in directory.rglob("*.json")]


# The object the bridge stores at start-up to prove the location (the empty value's).
PROBE_KEY = PREFIX + hashlib.sha256(b"").hexdigest()


async def stored_objects(moto: MotoServer, bucket: str) -> dict[str, dict[str, Any]]:
    """The records' objects under the prefix (the start-up probe's left out)."""
    async with aioboto3.Session().client("s3", **moto.client_kwargs()) as s3:
        listed = await s3.list_objects_v2(Bucket=bucket, Prefix=PREFIX)
        return {
            item["Key"]: await s3.head_object(Bucket=bucket, Key=item["Key"])
            for item in listed.get("Contents", [])
            if item["Key"] != PROBE_KEY
        }


async def test_a_missing_bucket_is_named_at_start_up_not_at_the_first_large_record(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    await kafka.create_topic(topic_name)
    local_lambda.add_function(FunctionSpec(FUNCTION, lambda event, context: None))
    env = claim_check_environment(
        kafka, local_lambda, moto_server, f"absent-{s3_bucket}", topic_name, "g"
    )
    code, lines = await run_to_exit(env)
    assert code == 2
    error = the_error(lines)
    assert f"LARGE_RECORDS=s3://absent-{s3_bucket}/{PREFIX}: S3 refused" in error
    assert "NoSuchBucket" in error


async def test_the_start_up_probe_stores_the_empty_value_as_a_record_would(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    await kafka.create_topic(topic_name)
    await kafka.produce(topic_name, [TestRecord(key=b"a", value=b'{"n": 1}', partition=0)])
    local_lambda.add_function(FunctionSpec(FUNCTION, lambda event, context: None))
    env = claim_check_environment(kafka, local_lambda, moto_server, s3_bucket, topic_name, "g")
    async with running_bridge(env) as running:
        await local_lambda.record.wait_until_async(lambda r: bool(r.invocations(FUNCTION)), 60)
        await running.stopped()
    async with aioboto3.Session().client("s3", **moto_server.client_kwargs()) as s3:
        probe = await s3.get_object(Bucket=s3_bucket, Key=PROBE_KEY)
        assert await probe["Body"].read() == b""
        assert probe["ServerSideEncryption"] == "AES256"


async def produce_around_large(kafka: KafkaUnderTest, topic: str, large: bytes) -> list[Produced]:
    await kafka.create_topic(topic, configs=TOPIC_CONFIGS)
    return await kafka.produce(topic, records_around(large), max_request_size=MAX_REQUEST_BYTES)


async def test_a_20_mb_record_reaches_a_powertools_handler_as_a_claim_check_read_back_whole(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
) -> None:
    large = os.urandom(LARGE_BYTES)  # binary: native carries any bytes
    produced = await produce_around_large(kafka, topic_name, large)
    claim_checks = claim_check_reader()
    s3 = boto3.client("s3", **moto_server.client_kwargs())
    seen = Seen()
    headers_seen: dict[int, dict[str, bytes]] = {}

    @kafka_consumer
    def handler(event: ConsumerRecords, context: object) -> dict[str, Any]:
        batch = []
        for record in event.records:  # Powertools' own Kafka event model
            headers_seen[record.offset] = dict(record.headers)
            checked = claim_checks.claim_check_of(record) is not None
            value = claim_checks.value_of(record, s3, location=f"s3://{s3_bucket}/{PREFIX}")
            batch.append((record.offset, base64.b64decode(record.original_key), value, checked))
        seen.add(batch)
        return {"batchItemFailures": []}

    local_lambda.add_function(FunctionSpec(FUNCTION, handler))
    group = f"g-{uuid.uuid4().hex}"
    env = claim_check_environment(kafka, local_lambda, moto_server, s3_bucket, topic_name, group)
    async with running_bridge(env) as running:
        await local_lambda.record.wait_until_async(lambda _: seen.count() >= 4, timeout_s=120)
        await running.stopped()
        assert running.bridge.counters.claim_checks_stored == 1

    assert_read_back(seen, produced)
    large_offset = produced[1].offset
    assert headers_seen[large_offset] == {"trace": b"t-1", CLAIM_CHECK_HEADER: b"1"}
    assert CLAIM_CHECK_HEADER not in headers_seen[produced[0].offset]
    digest = hashlib.sha256(large).hexdigest()
    objects = await stored_objects(moto_server, s3_bucket)
    assert list(objects) == [f"{PREFIX}{digest}"], "content-addressed, stored once"
    assert objects[f"{PREFIX}{digest}"]["ContentLength"] == LARGE_BYTES
    assert objects[f"{PREFIX}{digest}"]["ServerSideEncryption"] == "AES256"
    assert await kafka.committed_offsets(group, topic_name) == {0: produced[-1].offset + 1}


def legacy_handler(seen: Seen, claim_checks: ModuleType, s3: Any, location: str) -> Any:
    def handler(event: list[dict[str, Any]], context: object) -> dict[str, Any]:
        batch = []
        for record in event:
            checked = claim_checks.claim_check_of(record) is not None
            value = claim_checks.value_of(record, s3, location=location)
            batch.append((record["offset"], record["key"].encode(), value, checked))
        seen.add(batch)
        return {}

    return handler


def value_handler(
    seen: Seen, claim_checks: ModuleType, s3: Any, location: str, produced: list[Produced]
) -> Any:
    # A value-format payload names no record: the test tells them apart by their values.
    offsets = {p.record.value: (p.offset, p.record.key) for p in produced}

    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        checked = claim_checks.claim_check_of(event) is not None
        assert checked == (CLAIM_CHECK_FIELD in event)
        value = claim_checks.value_of(event, s3, location=location)
        if checked:
            offset, key = offsets[value]
        else:  # the payload is the record's JSON, parsed: find it by its meaning
            (offset, key), *_ = (
                (o, k) for v, (o, k) in offsets.items() if v and json.loads(v) == event
            )
            value = next(v for v, (o, _) in offsets.items() if o == offset)
        seen.add([(offset, key, value, checked)])
        return {}

    return handler


@pytest.mark.parametrize("payload_format", ["legacy", "value"])
async def test_a_20_mb_record_reaches_a_legacy_or_value_handler_as_a_claim_check(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
    payload_format: str,
) -> None:
    produced = await produce_around_large(kafka, topic_name, large_json_value())
    claim_checks = claim_check_reader()
    s3 = boto3.client("s3", **moto_server.client_kwargs())
    location = f"s3://{s3_bucket}/{PREFIX}"
    seen = Seen()
    handler = (
        legacy_handler(seen, claim_checks, s3, location)
        if payload_format == "legacy"
        else value_handler(seen, claim_checks, s3, location, produced)
    )
    local_lambda.add_function(FunctionSpec(FUNCTION, handler))
    env = claim_check_environment(
        kafka,
        local_lambda,
        moto_server,
        s3_bucket,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        payload_format=payload_format,
    )
    async with running_bridge(env) as running:
        await local_lambda.record.wait_until_async(lambda _: seen.count() >= 4, timeout_s=120)
        await running.stopped()

    assert_read_back(seen, produced)


@pytest.fixture
def example_handler(
    moto_server: MotoServer, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Seen]:
    """examples/large_records_handler.py, reading from moto as it would from S3, with its
    `process` recording what it was given."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("LARGE_RECORDS", f"s3://{s3_bucket}/{PREFIX}")
    handler = load_handler(f"{REPO / 'examples' / 'large_records_handler.py'}:handler")
    module = sys.modules[handler.__module__]
    seen = Seen()

    def process(record: dict[str, Any], value: bytes | None, claim_checked: bool) -> None:
        key = base64.b64decode(record["key"])
        seen.add([(record["offset"], key, value, claim_checked)])

    monkeypatch.setattr(module, "process", process)
    return handler, seen


async def test_the_example_handler_reads_a_20_mb_claim_check_back_byte_for_byte(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
    example_handler: tuple[Any, Seen],
) -> None:
    handler, seen = example_handler
    produced = await produce_around_large(kafka, topic_name, os.urandom(LARGE_BYTES))
    local_lambda.add_function(FunctionSpec(FUNCTION, handler))
    env = claim_check_environment(
        kafka, local_lambda, moto_server, s3_bucket, topic_name, f"g-{uuid.uuid4().hex}"
    )
    async with running_bridge(env) as running:
        await local_lambda.record.wait_until_async(lambda _: seen.count() >= 4, timeout_s=120)
        await running.stopped()

    assert_read_back(seen, produced)


async def test_while_s3_is_down_the_large_record_and_its_commit_wait_then_it_arrives(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    own_moto_server: MotoServer,
    topic_name: str,
) -> None:
    bucket = f"claims-{uuid.uuid4().hex[:12]}"
    async with aioboto3.Session().client("s3", **own_moto_server.client_kwargs()) as s3:
        await s3.create_bucket(Bucket=bucket)
    own_moto_server.stop()
    # A 10 KB record over a 4 KB limit is as large as 20 MB over 6 MB, and far quicker.
    large = os.urandom(10_000)
    await kafka.create_topic(topic_name)
    produced = await kafka.produce(topic_name, records_around(large))
    claim_checks = claim_check_reader()
    s3_client = boto3.client("s3", **own_moto_server.client_kwargs())
    seen = Seen()

    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        batch = []
        for records in event["records"].values():
            for record in records:
                checked = claim_checks.claim_check_of(record) is not None
                value = claim_checks.value_of(record, s3_client)
                batch.append((record["offset"], base64.b64decode(record["key"]), value, checked))
        seen.add(batch)
        return {}

    local_lambda.add_function(FunctionSpec(FUNCTION, handler))
    group = f"g-{uuid.uuid4().hex}"
    env = claim_check_environment(
        kafka,
        local_lambda,
        own_moto_server,
        bucket,
        topic_name,
        group,
        batch_max_bytes=4096,
        retry_backoff_base_ms=1,
        retry_backoff_max_ms=50,
    )
    async with running_bridge(env) as running:
        counters = running.bridge.counters
        await until(lambda: counters.claim_check_write_failures >= 3)
        # Key b and the record before the large one flow; the large one and key a wait.
        await local_lambda.record.wait_until_async(lambda _: seen.count() >= 2, timeout_s=60)
        await until(lambda: counters.commits >= 2)
        assert (await kafka.committed_offsets(group, topic_name)).get(0, 0) <= produced[1].offset
        assert {offset for offset, *_ in seen.records} == {produced[0].offset, produced[3].offset}
        own_moto_server.start()
        await local_lambda.record.wait_until_async(lambda _: seen.count() >= 4, timeout_s=60)
        await running.stopped()
        assert counters.claim_checks_stored == 1

    assert_read_back(seen, produced)
    assert await kafka.committed_offsets(group, topic_name) == {0: produced[-1].offset + 1}


async def test_a_record_whose_key_alone_is_too_large_is_still_dead_lettered_with_why(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
    tmp_path: Path,
) -> None:
    await kafka.create_topic(topic_name)
    produced = await kafka.produce(
        topic_name,
        [TestRecord(key=b"k" * 5000, value=b"{}"), TestRecord(key=b"small", value=b"{}")],
    )
    seen = Seen()

    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        seen.add([(r["offset"], None, b"", False) for rs in event["records"].values() for r in rs])
        return {}

    local_lambda.add_function(FunctionSpec(FUNCTION, handler))
    env = claim_check_environment(
        kafka,
        local_lambda,
        moto_server,
        s3_bucket,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        batch_max_bytes=4096,
        dlq=f"file://{tmp_path}",
    )
    async with running_bridge(env) as running:
        counters = running.bridge.counters
        await until(lambda: counters.dead_lettered == 1)
        await local_lambda.record.wait_until_async(lambda _: seen.count() >= 1, timeout_s=60)
        await running.stopped()
        assert counters.claim_checks_stored == 0

    (letter,) = dead_letter_files(tmp_path)
    assert letter["record"]["offset"] == produced[0].offset
    assert letter["error"]["type"] == "Undeliverable"
    assert "only the value travels by claim check" in letter["error"]["message"]
    assert await stored_objects(moto_server, s3_bucket) == {}


async def test_without_large_records_a_record_over_the_limit_is_dead_lettered_as_before(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    moto_server: MotoServer,
    s3_bucket: str,
    topic_name: str,
    tmp_path: Path,
) -> None:
    await kafka.create_topic(topic_name)
    produced = await kafka.produce(topic_name, records_around(os.urandom(10_000)))
    seen = Seen()

    def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
        seen.add([(r["offset"], None, b"", False) for rs in event["records"].values() for r in rs])
        return {}

    local_lambda.add_function(FunctionSpec(FUNCTION, handler))
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"g-{uuid.uuid4().hex}",
        s3_endpoint_url=moto_server.endpoint_url,
        batch_max_bytes=4096,
        dlq=f"file://{tmp_path}",
    )
    async with running_bridge(env) as running:
        counters = running.bridge.counters
        await until(lambda: counters.dead_lettered == 1)
        await local_lambda.record.wait_until_async(lambda _: seen.count() >= 3, timeout_s=60)
        await running.stopped()
        assert counters.claim_checks_stored == 0

    assert {offset for offset, *_ in seen.records} == {
        p.offset for p in produced if p is not produced[1]
    }
    (letter,) = dead_letter_files(tmp_path)
    assert letter["record"]["offset"] == produced[1].offset
    assert base64.b64decode(letter["record"]["value"]) == produced[1].record.value
    assert letter["error"]["type"] == "Undeliverable"
    assert "over the 4096-byte limit of one invocation" in letter["error"]["message"]
    assert await stored_objects(moto_server, s3_bucket) == {}
