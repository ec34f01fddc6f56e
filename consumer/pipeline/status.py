"""What the bridge says about itself: the heartbeat's health, EMF metrics on a timer, and the
lag of each partition it owns."""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Mapping, Sequence, Set

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from consumer.operations.counters import Counters
from consumer.operations.metrics import MetricsEmitter
from consumer.pipeline.lanes import Lane
from consumer.records import KafkaRecord
from consumer.settings.model import BridgeSettings


class Stage(enum.Enum):
    """How far the bridge has got towards delivering, in the order it gets there."""

    STARTING = "starting"  # checking the function, reaching the brokers, opening its outputs
    JOINING = "joining"  # its consumer made, the group's assignment not come (or rebalancing)
    ASSIGNED = "assigned"  # the group assigned it its partitions (none, if others have them all)


class BridgeStatus:
    """Reads the bridge's state, never changes it.

    The mappings are the bridge's own (live views, not copies); `consumer` is set once the
    bridge has made its Kafka consumer; `last_progress_at` is when a record was last done.
    """

    def __init__(
        self,
        settings: BridgeSettings,
        counters: Counters,
        metrics: MetricsEmitter,
        *,
        lanes: Mapping[TopicPartition, Lane],
        in_flight: Mapping[TopicPartition, Set[asyncio.Task[None]]],
        paused: Set[TopicPartition],
        committed: Mapping[TopicPartition, int],
        held: Mapping[TopicPartition, Sequence[Sequence[KafkaRecord]]],
        waiting: Mapping[TopicPartition, object],
        group_stable: asyncio.Event,
    ) -> None:
        self._settings = settings
        self._counters = counters
        self._metrics = metrics
        self._lanes, self._in_flight, self._paused = lanes, in_flight, paused
        self._committed, self._held, self._waiting = committed, held, waiting
        self._group_stable = group_stable  # set at each assignment, cleared at each revoke
        self.consumer: AIOKafkaConsumer | None = None
        self.last_progress_at = time.time()
        self.first_fetched_at: float | None = None  # when the first records arrived

    def stage(self) -> Stage:
        if self.consumer is None:
            return Stage.STARTING
        return Stage.ASSIGNED if self._group_stable.is_set() else Stage.JOINING

    def assigned(self) -> tuple[list[TopicPartition], list[TopicPartition]]:
        """(delivering, waiting for a previous owner's lease), each in partition order."""
        return sorted(self._lanes), sorted(self._waiting)

    def progressed(self) -> None:
        self.last_progress_at = time.time()

    def fetched(self) -> None:
        if self.first_fetched_at is None:
            self.first_fetched_at = time.time()

    @property
    def working_s(self) -> float:
        """From the first records fetched to the last record done (0 before any was done)."""
        first = self.first_fetched_at
        return 0.0 if first is None else max(0.0, self.last_progress_at - first)

    def health(self) -> dict[str, object]:
        """What the heartbeat carries for `python -m consumer.health` to judge."""
        counters = self._counters
        return {
            "partitions": len(self._lanes),
            "in_flight": self.in_flight(),
            "lag": sum(self.lags()),
            "last_progress_at": self.last_progress_at,
            "stall_alarm_s": self._settings.stall_alarm_seconds,
            "records_delivered": counters.records_delivered,
            "records_filtered": counters.records_filtered,
            "records_waiting_for_schemas": sum(
                len(records) for held in self._held.values() for records in held
            ),
        }

    def in_flight(self) -> int:
        return sum(len(tasks) for tasks in self._in_flight.values())

    def high_waters(self) -> dict[TopicPartition, int]:
        """Each owned partition's high-water mark, as the last fetch response gave it (none
        before the first): the offset the next record will get."""
        consumer = self.consumer
        if consumer is None:
            return {}
        # Mid-rebalance a lane can outlive its assignment (a pattern's new topic replaces the
        # subscription before the revoke callback runs); aiokafka has no high-water mark then.
        assigned = consumer.assignment()
        high_waters = {}
        for partition in self._lanes:
            if partition in assigned and (mark := consumer.highwater(partition)) is not None:
                high_waters[partition] = mark
        return high_waters

    def heard_from_brokers_at(self) -> float | None:
        """When a fetch response last came for a partition the bridge owns (wall-clock
        seconds), whether or not it brought records; None before the first."""
        consumer = self.consumer
        if consumer is None:
            return None
        stamps = [consumer.last_poll_timestamp(tp) for tp in consumer.assignment()]
        known = [stamp for stamp in stamps if stamp is not None]
        return max(known) / 1000 if known else None

    def lags(self) -> list[int]:
        """Records behind per owned partition: high-water mark minus committed offset."""
        lags = []
        for partition, high_water in self.high_waters().items():
            committed = self._committed.get(partition, self._lanes[partition].committable_offset)
            if committed is not None:
                lags.append(max(0, high_water - committed))
        return lags

    async def emit_metrics_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._settings.metrics_interval_seconds)
            self.emit_metrics()

    def emit_metrics(self) -> None:
        counters = self._counters
        self._metrics.emit(
            counts={
                "RecordsConsumed": counters.records_fetched,
                "RecordsDelivered": counters.records_delivered,
                "RecordsFiltered": counters.records_filtered,
                "Invocations": counters.invocations,
                "FunctionErrors": counters.function_errors,
                "Throttles": counters.throttles,
                "Retries": counters.retries,
                "DeadLettered": counters.dead_lettered,
                "AnswersProduced": counters.answers_produced,
                "AnswerProduceFailures": counters.answer_produce_failures,
            },
            gauges={"InFlight": self.in_flight(), "PausedPartitions": len(self._paused)},
            lags=self.lags(),
        )
