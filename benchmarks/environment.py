"""The surroundings of every contender: the real Apache Kafka broker (the test suite's runner,
jars from Maven Central cached in .cache/kafka), the local Lambda serving coroutine handlers
on this process's event loop, the Kafka clients the driver loads topics with, and for Avro
scenarios the test suite's schema registry (Apicurio, Confluent's API).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.receiver import Outcomes
from benchmarks.workload import AVRO_SCHEMA, Workload
from consumer.local import FunctionSpec, Invocation, LocalLambda
from consumer.local.functions import Handler
from tests.support.apache_kafka import ApacheKafkaBroker
from tests.support.kafka_dist import ensure_kafka_jars
from tests.support.kafka_records import KafkaTestClient
from tests.support.schema_registry_server import SchemaRegistryServer, ensure_registry_built

# Under the broker's 1 MiB message.max.bytes, and large enough that loading a million
# records is a few thousand requests.
_PRODUCE_BATCH_BYTES = 512 * 1024
_LIVE_TICK_S = 0.01  # how often records produced at a rate are sent


@dataclass
class Environment:
    broker: ApacheKafkaBroker
    local_lambda: LocalLambda
    admin: AIOKafkaAdminClient
    producer: AIOKafkaProducer
    registry: SchemaRegistryServer | None = None  # for scenarios with Avro values
    outcomes: dict[str, Outcomes] = field(default_factory=dict)  # by function name
    # by function name: also told of every invocation as it ends (S8 keeps a timeline)
    observers: dict[str, Callable[[Invocation], None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.local_lambda.record.listen(self._observe)

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def serve(
        self,
        function_name: str,
        handler: Handler,
        latency_s: float | tuple[float, float],
        concurrency_limit: int | None,
        *,
        timeout_s: float | None = None,
        seed: int = 0,
        observer: Callable[[Invocation], None] | None = None,
    ) -> Outcomes:
        """Registers a function with a fixed latency, or a (min, max) range drawn uniformly
        per invocation (seeded, so a run draws the same series); returns how its invocations
        end. `timeout_s` is the function's timeout as the bridge reads it (default: far above
        the latency); `observer` is told of every invocation as it ends."""
        self.outcomes[function_name] = outcomes = Outcomes()
        if observer is not None:
            self.observers[function_name] = observer
        longest_s = latency_s[1] if isinstance(latency_s, tuple) else latency_s
        self.local_lambda.add_function(
            FunctionSpec(
                function_name,
                handler,
                latency_s=latency_s,
                concurrency_limit=concurrency_limit,
                timeout_s=longest_s + 60 if timeout_s is None else timeout_s,
                seed=seed,
            )
        )
        return outcomes

    def _observe(self, invocation: Invocation) -> None:
        outcomes = self.outcomes.get(invocation.function_name)
        if outcomes is not None:
            outcomes.observe(invocation)
        observer = self.observers.get(invocation.function_name)
        if observer is not None:
            observer(invocation)

    async def create_topic(self, name: str, partitions: int) -> None:
        await KafkaTestClient(self.bootstrap).create_topic(name, partitions)

    async def delete_topic(self, name: str) -> None:
        await self.admin.delete_topics([name])

    async def register_avro(self, topic: str) -> int:
        """Registers the workload's Avro schema for the topic's values; its schema id."""
        if self.registry is None:
            raise RuntimeError("this environment was started without the schema registry")
        url = f"{self.registry.url}/subjects/{topic}-value/versions"
        async with aiohttp.ClientSession() as session:
            answer = await session.post(url, json={"schema": json.dumps(AVRO_SCHEMA)})
            answer.raise_for_status()
            registered: dict[str, int] = await answer.json(content_type=None)
        return registered["id"]

    async def load(
        self, topic: str, workload: Workload, count: int, avro_schema_id: int | None = None
    ) -> dict[int, int]:
        """Produces records 0..count-1 of the workload (values in Avro with the registry's
        framing if `avro_schema_id` is given); returns the records per partition (the topic
        is new, so that is also each partition's end offset)."""
        loader = _BatchLoader(self.producer, topic, workload, avro_schema_id)
        for index in range(count):
            await loader.add(index)
        await loader.flush()
        await loader.acknowledged()
        return loader.counts

    async def load_at_rate(
        self,
        topic: str,
        workload: Workload,
        start: int,
        rate: float,
        seconds: float,
        produced_ms: dict[int, list[float]],
    ) -> dict[int, int]:
        """Produces records start, start+1, … at `rate` per second for `seconds`, noting when
        each was produced in `produced_ms` (partition -> times, in offset order) as it goes;
        returns the records per partition."""
        loader = _BatchLoader(self.producer, topic, workload, produced_ms=produced_ms)
        began = time.monotonic()
        index = start
        while (elapsed := time.monotonic() - began) < seconds:
            due = start + int(rate * elapsed)
            while index < due:
                await loader.add(index)
                index += 1
            await loader.flush()
            await asyncio.sleep(_LIVE_TICK_S)
        await loader.acknowledged()
        return loader.counts

    async def committed(self, group: str, topic: str) -> dict[int, int]:
        """The group's committed offset per partition of `topic` (partitions without one are
        left out)."""
        offsets = await self.admin.list_consumer_group_offsets(group)
        return {
            tp.partition: meta.offset
            for tp, meta in offsets.items()
            if tp.topic == topic and meta.offset >= 0
        }


class _BatchLoader:
    """Fills one producer batch per partition and sends it when full (or on `flush`), without
    the future and the accumulator lookup a `send` per record costs: a million records load
    in a few seconds."""

    def __init__(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        workload: Workload,
        avro_schema_id: int | None = None,
        produced_ms: dict[int, list[float]] | None = None,
    ) -> None:
        self._producer = producer
        self._produced_ms = produced_ms
        self._topic = topic
        self._workload = workload
        self._value = (
            workload.value
            if avro_schema_id is None
            else functools.partial(_avro_value, workload, avro_schema_id)
        )
        self._batches = {p: producer.create_batch() for p in range(workload.partitions)}
        self._sent: list[asyncio.Future[object]] = []
        self.counts = dict.fromkeys(range(workload.partitions), 0)

    async def add(self, index: int) -> None:
        workload = self._workload
        partition = workload.partition(index)
        key, value = workload.key(index), self._value(index)
        batch = self._batches[partition]
        if batch.append(key=key, value=value, timestamp=None) is None:
            await self._send(partition)
            batch = self._batches[partition]
            batch.append(key=key, value=value, timestamp=None)
        self.counts[partition] += 1
        if self._produced_ms is not None:
            self._produced_ms.setdefault(partition, []).append(time.time() * 1000)

    async def flush(self) -> None:
        for partition, batch in self._batches.items():
            if batch.record_count():
                await self._send(partition)

    async def acknowledged(self) -> None:
        await asyncio.gather(*self._sent)
        self._sent.clear()

    async def _send(self, partition: int) -> None:
        batch = self._batches[partition]
        self._batches[partition] = self._producer.create_batch()
        self._sent.append(await self._producer.send_batch(batch, self._topic, partition=partition))


def _avro_value(workload: Workload, schema_id: int, index: int) -> bytes:
    return workload.avro_value(index, schema_id)


@contextlib.asynccontextmanager
async def started_environment(
    work_dir: Path, with_registry: bool = False
) -> AsyncIterator[Environment]:
    """Starts the broker, the local Lambda and the driver's clients (and the test suite's
    schema registry, for scenarios with Avro values); stops them on exit."""
    broker = ApacheKafkaBroker(ensure_kafka_jars(), work_dir / "kafka")
    local_lambda = LocalLambda(record_max_kept=64)  # a long run must not keep every event
    async with contextlib.AsyncExitStack() as stack:
        await broker.start()
        stack.push_async_callback(broker.stop)
        await local_lambda.start()
        stack.push_async_callback(local_lambda.stop)
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        stack.push_async_callback(admin.close)
        producer = AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap,
            acks=1,
            max_batch_size=_PRODUCE_BATCH_BYTES,
            max_request_size=4 * _PRODUCE_BATCH_BYTES,
        )
        await producer.start()
        stack.push_async_callback(producer.stop)
        registry = None
        if with_registry:
            registry = SchemaRegistryServer(ensure_registry_built(), work_dir / "registry.log")
            await asyncio.to_thread(registry.start)
            stack.callback(registry.stop)
        yield Environment(broker, local_lambda, admin, producer, registry)
