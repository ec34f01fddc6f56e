"""No record can stop the bridge: each kind of hostile record, between good ones in one
partition of the real broker, is dead-lettered with its reason and its bytes as fetched, the
records before and after it reach the function, the commit reaches the end, and the bridge
(`python -m consumer`, a process of its own) keeps running within a bounded memory.

Each kind stopped the bridge before the trust boundary: a header name that is not UTF-8 failed
the Kafka client's fetch; JSON nested thousands deep raised RecursionError in the filter or
the `value` format; an Avro array claiming 2^62 empty items in 15 bytes looped until memory ran
out; a schema nested hundreds deep raised RecursionError while it was compiled, leaving its
partition paused for ever.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema

from consumer.local import FunctionSpec, LocalLambda
from tests.consumer.schemas.test_protobuf import zigzag_varint  # Avro's varints are the same
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    bridge_environment,
    bridge_process,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord
from tests.support.raw_batches import MARKER, NOT_UTF8_MARKER, batch, not_utf8_name, produce_batch
from tests.support.schema_registry_server import SchemaRegistryServer
from tests.support.schema_serializers import avro_bytes, registry_client

# What the bridge process may hold at its peak while it meets any of these records (it holds
# about 120 MiB with nothing to do; the Avro bomb grew past 1.5 GiB in 11 s).
PEAK_RSS_BOUND_MIB = 400
DEEP = 5_000  # levels of JSON nesting: past any parser's recursion limit
GOOD_BEFORE, GOOD_AFTER = b'{"kind": "before"}', b'{"kind": "after"}'


class KindSink:
    """A handler keeping the "kind" of each record it is given: from a native event's values,
    or, with the value format, from the event itself (the record's value)."""

    def __init__(self) -> None:
        self._native = RecordingSink()
        self._lock = threading.Lock()
        self._kinds: list[str] = []

    def __call__(self, event: dict[str, Any], context: object) -> Any:
        if event.get("eventSource") == "SelfManagedKafka":
            self._native(event, context)
            kinds = [json.loads(d.value or b"null")["kind"] for d in self._native.delivered]
            with self._lock:
                self._kinds = kinds
        else:
            with self._lock:
                self._kinds.append(event["kind"])
        return None

    def kinds(self) -> list[str]:
        with self._lock:
            return list(self._kinds)


@dataclass(frozen=True)
class Outcome:
    kinds: list[str]
    letters: list[dict[str, Any]]
    committed: dict[int, int]
    peak_rss_mib: float
    exit_code: int


async def run_through_the_bridge(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic: str,
    directory: Path,
    produce: Callable[[], Any],
    **settings: object,
) -> Outcome:
    """Produces (good, bad, good) into one partition, runs `python -m consumer` until both good
    records arrived and one dead letter was written, then stops it with SIGTERM."""
    await kafka.create_topic(topic, partitions=1)
    await produce()
    sink = KindSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    group = f"g-{uuid.uuid4().hex[:8]}"
    env = bridge_environment(
        kafka, local_lambda.url, topic, group, dlq=f"file://{directory}", **settings
    )
    process = await bridge_process(env)
    peak_kib = 0
    try:
        async with asyncio.timeout(90):
            while not (len(sink.kinds()) == 2 and letters_in(directory)):
                assert process.returncode is None, "the bridge stopped"
                peak_kib = max(peak_kib, high_water_kib(process.pid))
                assert peak_kib < PEAK_RSS_BOUND_MIB * 1024, f"{peak_kib} KiB and growing"
                await asyncio.sleep(0.05)  # polling the process's memory, not waiting for it
        peak_kib = max(peak_kib, high_water_kib(process.pid))
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    except (TimeoutError, AssertionError):
        process.kill()
        output, _ = await process.communicate()
        print(output.decode()[-5000:])  # shown by pytest with the failure
        raise
    assert "Traceback" not in output.decode(), output.decode()[-3000:]
    return Outcome(
        kinds=sink.kinds(),
        letters=letters_in(directory),
        committed=await kafka.committed_offsets(group, topic),
        peak_rss_mib=peak_kib / 1024,
        exit_code=process.returncode or 0,
    )


def high_water_kib(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc: not Linux?")


def letters_in(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*/*/*.json"))]


def assert_only_the_bad_one_was_dead_lettered(outcome: Outcome, bad: bytes, reason: str) -> None:
    assert outcome.exit_code == 0
    # Both good records, once each; in either order, as neither has a key (under the value
    # format each is an invocation of its own, and keyless ones run concurrently).
    assert sorted(outcome.kinds) == ["after", "before"]
    ((letter,),) = [outcome.letters]
    assert letter["record"]["offset"] == 1
    assert letter["error"]["type"] == "Undeliverable"
    assert reason in letter["error"]["message"], letter["error"]["message"]
    assert base64.b64decode(letter["record"]["value"]) == bad, "the bytes as fetched"
    assert outcome.committed == {0: 3}
    assert outcome.peak_rss_mib < PEAK_RSS_BOUND_MIB


def nested(depth: int, opener: str, closer: str, inner: str = "1") -> bytes:
    return (opener * depth + inner + closer * depth).encode()


async def test_a_header_name_that_is_not_utf8_is_a_dead_letter_and_the_records_around_it_arrive(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str, tmp_path: Path
) -> None:
    bad = b'{"kind": "bad"}'

    async def produce() -> None:
        # One batch, so one fetch holds all three; no client library writes such a name, so
        # the batch goes to the broker as bytes.
        rows = [
            (None, GOOD_BEFORE, [("ok", b"1")]),
            (None, bad, [("ok", b"2"), (MARKER, b"x")]),
            (None, GOOD_AFTER, []),
        ]
        await produce_batch(kafka.bootstrap, topic_name, 0, not_utf8_name(batch(rows)))

    outcome = await run_through_the_bridge(
        kafka, local_lambda, topic_name, tmp_path / "dead", produce
    )

    assert_only_the_bad_one_was_dead_lettered(outcome, bad, "header name is not UTF-8")
    (letter,) = outcome.letters
    assert letter["record"]["headers"] == [
        {"key": "ok", "value": base64.b64encode(b"2").decode()},
        {"keyBase64": base64.b64encode(NOT_UTF8_MARKER).decode(), "value": "eA=="},
    ]


@pytest.mark.parametrize(("opener", "closer"), [("[", "]"), ('{"a":', "}")])
@pytest.mark.parametrize("where", ["filter", "value format"])
async def test_json_nested_thousands_deep_is_a_dead_letter(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    tmp_path: Path,
    opener: str,
    closer: str,
    where: str,
) -> None:
    bad = nested(DEEP, opener, closer)
    settings: dict[str, object] = (
        {"filter_patterns": '[{"value": {"kind": [{"exists": true}]}}, {"value": [1]}]'}
        if where == "filter"
        else {"payload_format": "value"}
    )

    async def produce() -> None:
        await kafka.produce(
            topic_name, [TestRecord(value=v, partition=0) for v in (GOOD_BEFORE, bad, GOOD_AFTER)]
        )

    outcome = await run_through_the_bridge(
        kafka, local_lambda, topic_name, tmp_path / "dead", produce, **settings
    )

    assert_only_the_bad_one_was_dead_lettered(outcome, bad, "nests too deeply")


KIND_AVSC = json.dumps(
    {"type": "record", "name": "Kinded", "fields": [{"name": "kind", "type": "string"}]}
)


async def registered(registry: SchemaRegistryServer, subject: str, schema: Any) -> int:
    """Registers an Avro schema under `subject` (not the topic's: the producer picks the id)."""
    client = registry_client(registry.url)
    text = schema if isinstance(schema, str) else json.dumps(schema)
    schema_id: int = await asyncio.to_thread(client.register_schema, subject, Schema(text, "AVRO"))
    return schema_id


def framed(schema_id: int, body: bytes) -> bytes:
    """Confluent's wire format: a zero byte, the schema id, the body."""
    return b"\x00" + schema_id.to_bytes(4, "big") + body


def nested_arrays(depth: int) -> Any:
    schema: Any = "long"
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


@pytest.mark.parametrize("kind", ["avro bomb", "schema too deep"])
async def test_a_hostile_schema_or_body_from_the_registry_is_a_dead_letter(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    tmp_path: Path,
    schema_registry: SchemaRegistryServer,
    kind: str,
) -> None:
    if kind == "avro bomb":  # 15 bytes claiming 2^62 items that take no bytes
        schema_id = await registered(
            schema_registry, f"{topic_name}-bomb", {"type": "array", "items": "null"}
        )
        # A block of -2^62 items (a negative count is followed by the block's byte size).
        bad = framed(schema_id, zigzag_varint(-(2**62)) + zigzag_varint(0))
        reason = "claim more items"
        assert len(bad) == 15
    else:  # nested far past the bound, though the registry takes it
        schema_id = await registered(schema_registry, f"{topic_name}-deep", nested_arrays(500))
        bad, reason = framed(schema_id, b"\x00"), "nests 500 levels deep"

    async def produce() -> None:
        good = [
            await asyncio.to_thread(avro_bytes, schema_registry.url, topic_name, KIND_AVSC, value)
            for value in ({"kind": "before"}, {"kind": "after"})
        ]
        values = (good[0], bad, good[1])
        await kafka.produce(topic_name, [TestRecord(value=v, partition=0) for v in values])

    outcome = await run_through_the_bridge(
        kafka,
        local_lambda,
        topic_name,
        tmp_path / "dead",
        produce,
        schema_registry_url=schema_registry.url,
        schema_record_format="JSON",
    )

    assert_only_the_bad_one_was_dead_lettered(outcome, bad, reason)
