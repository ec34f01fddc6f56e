"""The delivery loop: fetch → lanes → invocations → offsets → commits.

One task fetches, decodes schema-registry records (SCHEMA_REGISTRY_URL or
GLUE_SCHEMA_REGISTRY_ARN; a partition whose records name a schema not fetched yet waits,
paused, while a task of its own fetches it), filters (FILTER_PATTERNS: a filtered record is
done at once) and hands records to the lane of their partition; each batch a lane releases
is delivered by a task of its own (retries included), which frees the lane's slot and
dispatches the next batch when it ends; another task commits on a timer
(consumer/pipeline/commits.py), each partition with its lease and done offsets. Rebalances
stop only what moves (consumer/pipeline/membership.py); shutdown (its deadlines:
consumer/pipeline/stop_budget.py) drains in-flight batches, commits, and leaves the group.

Invariants:
- an offset is committed only when every record of the partition below it is done;
- at most `max_in_flight_per_partition` batches per partition and `max_in_flight_total`
  invocations overall are in flight (the latter lowered while the function throttles);
- a partition whose lane holds more than its buffer bounds is paused until it drains;
- records held for their schemas (consumer/pipeline/schema_holds.py) are in no lane, so no
  commit reaches them; they reach their lane in fetch order, and nothing fetched after them
  for their partition goes first;
- no invocation starts beyond the lease committed for its partition, and a partition's next
  owner starts none before that lease is over or released, so no key is in two invocations
  at once across members, whatever ends this one (consumer/ownership/leases.py);
- the whole stop, from the signal to leaving the group, takes at most
  `shutdown_timeout_seconds` (and LEAVE_AT_LEAST_S, if the drain used it all).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack, suppress
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from aiokafka.structs import TopicPartition

from consumer.answers import open_answering
from consumer.aws_lambda.invoker import LambdaInvoker
from consumer.errors import BridgeError
from consumer.failures.dead_letters import DeadLetterSink, open_dead_letters
from consumer.filtering.record_filter import RecordFilter
from consumer.health.heartbeat import beat
from consumer.kafka import record_batches
from consumer.kafka.connection import (
    check_topics_exist,
    consumer_arguments,
    explain_group_failure,
)
from consumer.kafka.outages import BrokerOutages
from consumer.kafka.probe import probe_brokers
from consumer.operations.counters import Counters
from consumer.operations.metrics import MetricsEmitter
from consumer.ownership.assignor import StickyAssignor
from consumer.ownership.leases import Clock, Leases
from consumer.payloads.claim_checks import open_claim_checks
from consumer.payloads.encoders import encoder_for
from consumer.pipeline.batch_windows import BatchWindows
from consumer.pipeline.commits import Committer
from consumer.pipeline.delivery import Delivery, LetGo
from consumer.pipeline.lanes import Lane
from consumer.pipeline.membership import (
    INVOCATION_END_MARGIN_S,
    LEASE_AHEAD_S,
    Membership,
    OwnedPartitions,
)
from consumer.pipeline.schema_holds import HeldRecords, SchemaHolds
from consumer.pipeline.status import BridgeStatus, Stage
from consumer.pipeline.stop_budget import StopBudget
from consumer.records import Batch, KafkaRecord
from consumer.schemas.record_decoding import RecordDecoding
from consumer.schemas.setup import open_schema_decoding
from consumer.settings.model import BridgeSettings
from consumer.settings.payload_format import PayloadFormat

log = logging.getLogger("consumer.bridge")

_FETCH_WAIT_MS = 500
# After a commit that could not go (the group rebalancing, the coordinator away), the next
# try waits this long, however soon an invocation wants a longer lease.
_RETRY_COMMIT_S = 0.1


class Bridge:
    """`await Bridge(settings, invoker).run(stop)` delivers until `stop` is set, then drains."""

    def __init__(
        self,
        settings: BridgeSettings,
        invoker: LambdaInvoker,
        metrics_out: TextIO | None = sys.stdout,
        clock: Clock = time.time,  # wall-clock time, which leases are in
    ) -> None:
        self._settings = settings
        self._invoker = invoker
        # A record the bridge cannot read (an UndecodedRecord) is refused by its lane.
        self._encoder = encoder_for(settings.payload_format, settings.kafka_bootstrap_servers)
        patterns = settings.compiled_filter_patterns
        # A decoded value is matched as decoded JSON but may travel as its source bytes.
        keep_parsed_json = (
            settings.payload_format is PayloadFormat.VALUE and not settings.decodes_schemas
        )
        self._filter = (
            RecordFilter(patterns, keep_parsed_json, decoded=settings.decodes_schemas)
            if patterns
            else None
        )
        # Schema-registry decoding (opened in run()); records whose schemas are not resolved
        # yet are held per partition, in fetch order, with the partition paused.
        self._schemas: RecordDecoding[Any] | None = None
        self._holds = SchemaHolds(self._release_held, self._holds_failed)
        self.counters = Counters()
        self.metrics = MetricsEmitter(
            settings.metrics_namespace,
            settings.metrics_service,
            settings.topics_description,
            settings.kafka_group_id,
            out=metrics_out,  # CloudWatch reads stdout; None: no metrics lines (local mode)
        )
        # Until the function's timeout is read, an invocation may run REVOKE_TIMEOUT_MS.
        self._leases = Leases(settings.revoke_timeout_ms / 1000, LEASE_AHEAD_S, clock)
        self._delivery = Delivery(
            settings, invoker, self._encoder, self.counters, self.metrics, self._leases
        )
        self._owned = OwnedPartitions()
        # The tables of `_owned`, by their names: the loop reads them on every fetch and batch.
        self._lanes, self._tasks = self._owned.lanes, self._owned.in_flight
        self._paused, self._committed = self._owned.paused, self._owned.committed
        self._windows = BatchWindows(settings.batch_window_ms, settings.batch_size, self._dispatch)
        self._fatal: BridgeError | None = None
        self._draining_buffer = False  # stopping on brokers that drop a commit's metadata
        self._stop = StopBudget(settings.shutdown_timeout_seconds)
        self._consumer: AIOKafkaConsumer | None = None
        self._outages = BrokerOutages()  # aiokafka's connection errors, summarized
        self._committer = Committer(
            self._lanes, self._committed, self._leases, self.counters, self._consumer_or_fail
        )
        self._membership = Membership(
            settings,
            self._owned,
            encoder=self._encoder,
            delivery=self._delivery,
            windows=self._windows,
            holds=self._holds,
            leases=self._leases,
            committer=self._committer,
            counters=self.counters,
            consumer=self._consumer_or_fail,
        )
        self.ready = asyncio.Event()  # set once the first fetch has returned
        self._status = BridgeStatus(
            settings,
            self.counters,
            self.metrics,
            lanes=self._lanes,
            in_flight=self._tasks,
            paused=self._paused,
            committed=self._committed,
            held=self._holds.held,
            waiting=self._owned.waiting,
            group_stable=self._committer.stable,
        )

    @property
    def schemas(self) -> RecordDecoding[Any] | None:
        """The schema-registry decoding, once `run` has opened it (None without a registry)."""
        return self._schemas

    @property
    def invocation_lease_s(self) -> float:
        """How long an invocation may run at Lambda, as the leases count it (see run())."""
        return self._leases.invocation_s

    @property
    def working_s(self) -> float:
        """Seconds from the first records fetched to the last record done: what a rate of
        records done is over (start-up and idle time after are no part of it)."""
        return self._status.working_s

    @property
    def stage(self) -> Stage:
        """How far it has got towards delivering: starting, joining the group, assigned."""
        return self._status.stage()

    def assigned(self) -> tuple[list[TopicPartition], list[TopicPartition]]:
        """The partitions it owns: (delivering, waiting for a previous owner's lease)."""
        return self._status.assigned()

    async def joined(self) -> None:
        """Returns once the group has assigned it its partitions (at once if it has, unless
        the group is rebalancing)."""
        await self._committer.stable.wait()

    def high_waters(self) -> dict[TopicPartition, int]:
        """Each owned partition's high-water mark as last fetched: where its next record goes."""
        return self._status.high_waters()

    @property
    def dead_letters(self) -> DeadLetterSink | None:
        """Where dead letters go, once `run` has opened it (None without DLQ)."""
        return self._delivery.dead_letters

    @property
    def filtering(self) -> bool:
        """FILTER_PATTERNS is set: some records may be done without an invocation."""
        return self._filter is not None

    # -- life cycle -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        async with AsyncExitStack() as resources:
            resources.enter_context(self._outages.installed())
            record_batches.install()  # a record the Kafka client cannot parse fails no fetch
            await self._invoker.check_invokable()
            await self._size_the_leases()
            await probe_brokers(self._settings)
            self._schemas = await open_schema_decoding(self._settings, resources)
            self._delivery.dead_letters = await open_dead_letters(self._settings, resources)
            self._delivery.claim_checks = await open_claim_checks(
                self._settings, self._encoder, self.counters, resources
            )
            self._delivery.answering = await open_answering(
                self._settings, self.counters, resources
            )
            await self._consume(stop)
        log.info("stopped", extra={"fields": {"counters": vars(self.counters)}})

    async def _consume(self, stop: asyncio.Event) -> None:
        settings = self._settings
        consumer = AIOKafkaConsumer(
            **consumer_arguments(settings),
            partition_assignment_strategy=(StickyAssignor(self._membership.owned_now),),
        )
        self._consumer = self._status.consumer = consumer
        background: list[asyncio.Task[None]] = []  # committer, metrics, heartbeat: to the end
        try:
            try:
                await consumer.start()
            except KafkaError as refused:
                raise explain_group_failure(refused, settings) from None
            await check_topics_exist(consumer, settings)
            listener = self._membership.listener()
            if settings.kafka_topic is not None:
                consumer.subscribe(settings.kafka_topic, listener=listener)
            else:  # the whole name must match; aiokafka matches from the start only
                pattern = rf"(?:{settings.kafka_topic_pattern})\Z"
                consumer.subscribe(pattern=pattern, listener=listener)
            background.extend(
                asyncio.create_task(work)
                for work in (
                    self._commit_periodically(),
                    self._status.emit_metrics_periodically(),
                    beat(
                        settings.health_file, settings.health_interval_seconds, self._status.health
                    ),
                )
            )
            stopper = asyncio.create_task(self._interrupt_on(stop), name="stopper")
            try:
                await self._fetch_until_interrupted(consumer)
            finally:
                stopper.cancel()
            if self._fatal is not None:
                raise self._fatal
            # Without a commit's metadata (no done offsets), only delivering the buffer lets a
            # stop commit all it delivered: a delivered record can sit above a buffered one.
            self._draining_buffer = self._committer.keeps_metadata is False
            for partition, lane in self._lanes.items():
                if self._draining_buffer:
                    self._dispatch(partition, lane)  # batches a window was holding go now
                else:  # nothing new starts; a retry in backoff gives up
                    self._delivery.let_go(partition.topic, partition.partition)
            await self._finish_in_flight(self._stop.drain_left_s())
            try:
                await asyncio.wait_for(
                    self._committer.commit(list(self._lanes), final=True),
                    self._stop.final_step_s(),
                )
            except TimeoutError:
                log.warning(
                    "stopping: the last commit did not answer in time; records after "
                    "the last one committed will be delivered again"
                )
            if self._fatal is not None:  # Lambda refused an invocation while draining
                raise self._fatal
        finally:
            for task in background:
                task.cancel()
            await self._cancel_all()
            if background:  # it got as far as consuming: the last period's numbers count
                self._status.emit_metrics()
            await self._leave_the_group(consumer)

    async def _size_the_leases(self) -> None:
        """An invocation may run until Lambda ends it: the function's timeout and a margin.
        Without the timeout, REVOKE_TIMEOUT_MS."""
        timeout_s, why_not = await self._invoker.function_timeout_s()
        if timeout_s is None:
            log.warning(
                "could not read the function's timeout; leases count REVOKE_TIMEOUT_MS for an "
                "invocation, and one still running after that may overlap with its "
                "partition's next owner (grant lambda:GetFunctionConfiguration)",
                extra={"fields": {"error": why_not, "lease_s": self._leases.invocation_s}},
            )
            return
        self._leases.invocation_s = timeout_s + INVOCATION_END_MARGIN_S

    async def _leave_the_group(self, consumer: AIOKafkaConsumer) -> None:
        """Stops the consumer, which leaves the group so the others take over at once; within
        what is left of the stop's budget, as a rebalance in progress could hold it up to the
        group's rebalance timeout."""
        if not self._stop.started.is_set():  # it never ran: nothing to wait on
            await consumer.stop()
            return
        try:
            await asyncio.wait_for(consumer.stop(), self._stop.final_step_s())
        except TimeoutError:
            log.warning(
                "stopped without waiting for the group: a rebalance was in progress; the "
                "others take this member's partitions once its session times out"
            )

    async def _interrupt_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        log.info("stopping: finishing the invocations in flight, then committing")
        self._stop.start()

    def _fail(self, error: BridgeError) -> None:
        if self._fatal is None:
            self._fatal = error
        self._stop.start()

    # -- fetching -----------------------------------------------------------------------

    async def _fetch_until_interrupted(self, consumer: AIOKafkaConsumer) -> None:
        interrupted = asyncio.create_task(self._stop.started.wait())
        try:
            while not self._stop.started.is_set():
                # One fetch brings at most one buffer's worth, so a lane holds at most twice
                # its bound: what it had when it paused, plus the fetch that filled it.
                fetch = asyncio.ensure_future(
                    consumer.getmany(
                        timeout_ms=_FETCH_WAIT_MS,
                        max_records=self._settings.max_buffered_records_per_partition,
                    )
                )
                await asyncio.wait({fetch, interrupted}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()  # unfetched records are simply fetched again later
                    break
                try:
                    fetched = fetch.result()
                except (GroupAuthorizationFailedError, TopicAuthorizationFailedError) as denied:
                    raise explain_group_failure(denied, self._settings) from None
                self.ready.set()
                for partition, records in fetched.items():
                    self._accept(partition, records)
        finally:
            interrupted.cancel()

    def _accept(self, partition: TopicPartition, records: Sequence[KafkaRecord]) -> None:
        lane = self._lanes.get(partition)
        if lane is None:
            return  # revoked while the fetch was under way; its new owner fetches them
        self.counters.records_fetched += len(records)
        self._status.fetched()
        if records:
            self._owned.fetched_to[partition] = records[-1].offset + 1
        schemas = self._schemas
        if schemas is not None and records:
            decoded = None if self._holds.holds(partition) else schemas.decode_all(records)
            if not isinstance(decoded, list):  # behind held records, or a schema to fetch
                self._hold_for_schemas(partition, records, schemas)
                return
            records = decoded
        self._admit(partition, lane, records)

    def _admit(self, partition: TopicPartition, lane: Lane, records: Sequence[KafkaRecord]) -> None:
        """Filters the records, hands the others to their lane, dispatches what is ready.

        Filtered records, and those the partition's previous owner did above its committed
        offset, are done here: the lane only passes over their offsets."""
        fetched = len(records)
        last_offset = records[-1].offset if records else None
        done_before = self._owned.done_before.get(partition)
        if done_before is not None and records:
            records = self._skip_done_before(partition, records, done_before)
        if self._filter is None or not records:
            admitted = records
        else:
            admitted = self._filter.admitted(records)
            self.counters.records_filtered += len(records) - len(admitted)
        if len(admitted) == fetched:
            lane.add(admitted)
        else:
            lane.add(admitted, fetched_through=last_offset)
            self._status.progressed()
        buffered = lane.buffered_records
        if buffered > self.counters.peak_buffered_records:
            self.counters.peak_buffered_records = buffered
        if lane.should_pause and partition not in self._paused:
            self._consumer_or_fail().pause(partition)
            self._paused.add(partition)
            self.counters.pauses += 1
        self._dispatch(partition, lane)

    def _skip_done_before(
        self, partition: TopicPartition, records: Sequence[KafkaRecord], done: frozenset[int]
    ) -> Sequence[KafkaRecord]:
        kept = [record for record in records if record.offset not in done]
        self.counters.records_done_before += len(records) - len(kept)
        if records[-1].offset >= max(done):
            del self._owned.done_before[partition]  # fetched past all of them
        return kept

    def _hold_for_schemas(
        self,
        partition: TopicPartition,
        records: Sequence[KafkaRecord],
        schemas: RecordDecoding[Any],
    ) -> None:
        """Keeps the records back, in order, until the schemas they name are resolved; the
        partition is paused meanwhile, and none of them is in its lane: nothing at or past
        them can be committed, whatever the registry does."""
        self._holds.hold(partition, records, schemas)
        if partition not in self._paused:
            self._consumer_or_fail().pause(partition)
            self._paused.add(partition)
            self.counters.pauses += 1

    def _release_held(self, partition: TopicPartition, held: HeldRecords) -> None:
        """The schemas of the held records are resolved: they go to their lane, in order."""
        schemas = self._schemas
        assert schemas is not None
        lane = self._lanes.get(partition)
        if lane is None:
            return
        for records in held:
            decoded = schemas.decode_all(records)
            assert isinstance(decoded, list), "resolved just now, on this loop"
            self._admit(partition, lane, decoded)
        self._resume_if_drained(partition, lane)

    def _holds_failed(self, error: BaseException) -> None:
        """A bug, not a record: stop loudly rather than leave a partition paused for ever."""
        log.error(
            "records held for their schemas could not be released; stopping",
            exc_info=error,
        )
        self._fail(BridgeError("records held for their schemas could not be released"))

    def _resume_if_drained(self, partition: TopicPartition, lane: Lane) -> None:
        if (
            partition in self._paused
            and not self._holds.holds(partition)
            and lane.may_resume
            and self._lanes.get(partition) is lane
        ):
            self._consumer_or_fail().resume(partition)
            self._paused.discard(partition)

    def _consumer_or_fail(self) -> AIOKafkaConsumer:
        assert self._consumer is not None, "the consumer exists while the bridge runs"
        return self._consumer

    # -- dispatching and delivering ---------------------------------------------------------

    def _dispatch(self, partition: TopicPartition, lane: Lane) -> None:
        if (
            self._fatal is not None
            or (self._stop.started.is_set() and not self._draining_buffer)
            or self._lanes.get(partition) is not lane
            or self._windows.holds_back(partition, lane, closing=self._stop.started.is_set())
        ):
            return
        tasks = self._tasks[partition]
        while (batch := lane.next_batch()) is not None:
            task = asyncio.create_task(self._deliver(partition, lane, batch))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        self._windows.dispatched(partition, lane)

    async def _deliver(self, partition: TopicPartition, lane: Lane, batch: Batch) -> None:
        try:
            await self._delivery.deliver(batch)
        except LetGo:
            return  # revoked: nothing is marked done; the partition's next owner delivers it
        except asyncio.CancelledError:
            raise  # revoked or shutting down: nothing is marked done, so nothing is committed
        except BridgeError as fatal:
            self._fail(fatal)
            return
        lane.complete(batch)  # every record delivered or dead-lettered
        self.counters.records_delivered += len(batch.records)
        self._status.progressed()
        self._resume_if_drained(partition, lane)
        self._dispatch(partition, lane)

    # -- offsets ---------------------------------------------------------------------------

    async def _commit_periodically(self) -> None:
        """Every COMMIT_INTERVAL_MS, and at once when an invocation waits for its lease."""
        interval_s = self._settings.commit_interval_ms / 1000
        wanted = self._leases.renewal_wanted
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(wanted.wait(), interval_s)
            wanted.clear()
            if not await self._committer.commit(list(self._lanes)):
                await asyncio.sleep(_RETRY_COMMIT_S)  # rebalancing, or the commit failed
            heard_at = self._status.heard_from_brokers_at()
            if heard_at is not None:
                self._outages.heard_from_brokers(heard_at)

    # -- rebalancing and draining ------------------------------------------------------------

    async def _finish_in_flight(self, timeout_s: float) -> None:
        """On shutdown: let the invocations in flight end, for up to `timeout_s`; nothing
        new starts (fetching has stopped, the partitions are let go) — unless the brokers
        drop a commit's metadata, when what is buffered is delivered too.

        What is buffered is left for the partitions' next owners, who start as soon as this
        member leaves: the last commit's done offsets tell them which records above the
        committed one were delivered, so a clean stop repeats nothing, and it costs the group
        the invocations in flight, not the whole buffer.
        """
        deadline = time.monotonic() + timeout_s
        while running := {task for tasks in self._tasks.values() for task in tasks}:
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                log.warning(
                    "shutdown timeout: undelivered records will be delivered again later",
                    extra={"fields": {"batches_in_flight": len(running)}},
                )
                return
            await asyncio.wait(running, timeout=remaining_s, return_when=asyncio.FIRST_COMPLETED)

    async def _cancel_all(self) -> None:
        await self._holds.cancel_all()
        await self._membership.cancel(list(self._tasks))
