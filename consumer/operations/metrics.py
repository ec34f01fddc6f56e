"""Metrics in CloudWatch Embedded Metric Format (EMF): one JSON line on stdout per interval,
which CloudWatch Logs turns into metrics without any API call from the task.

`METRICS` is the one list of what the bridge emits; the Pulumi dashboard and alarms read
it (this module needs only the standard library, so the Pulumi program can import it).

Distributions (latencies) go out as EMF histograms — `{"Values", "Counts", "Max", "Min",
"Count", "Sum"}` with at most 100 bins — so CloudWatch computes percentiles over every
sample, not over a sample of them. Bins are logarithmic (each 10 % wider than the last),
and coarsened when a period spreads over more than 100 of them.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Any, TextIO

DEFAULT_NAMESPACE = "KafkaToLambda"
DIMENSION_NAMES = (
    "Service",
    "Topic",
    "Group",
)  # never partition: one series per partition is costly
MAX_HISTOGRAM_BINS = 100  # CloudWatch drops a histogram with more
_BIN_GROWTH = 1.1
_LOG_BIN_GROWTH = math.log(_BIN_GROWTH)


class Kind(Enum):
    COUNT = "count"  # a number of events in the period
    GAUGE = "gauge"  # a level at the end of the period
    STATISTICS = "statistics"  # max/min/sum/count over the owned partitions
    HISTOGRAM = "histogram"  # every sample of the period, binned


@dataclass(frozen=True)
class MetricDefinition:
    name: str
    unit: str  # a CloudWatch unit
    kind: Kind
    meaning: str


METRICS = (
    MetricDefinition("RecordsConsumed", "Count", Kind.COUNT, "records fetched from Kafka"),
    MetricDefinition(
        "RecordsDelivered", "Count", Kind.COUNT, "records done: delivered or dead-lettered"
    ),
    MetricDefinition(
        "RecordsFiltered",
        "Count",
        Kind.COUNT,
        "records that matched no filter pattern: committed without an invocation",
    ),
    MetricDefinition("Invocations", "Count", Kind.COUNT, "Lambda invocations, retries included"),
    MetricDefinition("FunctionErrors", "Count", Kind.COUNT, "invocations the function failed"),
    MetricDefinition("Throttles", "Count", Kind.COUNT, "invocations Lambda throttled (429)"),
    MetricDefinition("Retries", "Count", Kind.COUNT, "invocations that had to be retried"),
    MetricDefinition("DeadLettered", "Count", Kind.COUNT, "records written to the dead letter"),
    MetricDefinition(
        "AnswersProduced", "Count", Kind.COUNT, "answer records produced to RESPONSE_TOPIC"
    ),
    MetricDefinition(
        "AnswerProduceFailures",
        "Count",
        Kind.COUNT,
        "failed produces to RESPONSE_TOPIC, each retried; the records wait uncommitted",
    ),
    MetricDefinition(
        "InvocationLatency", "Milliseconds", Kind.HISTOGRAM, "time of one Invoke call"
    ),
    MetricDefinition(
        "EndToEndLatency",
        "Milliseconds",
        Kind.HISTOGRAM,
        "record timestamp to the function's successful answer",
    ),
    MetricDefinition(
        "ConsumerLag",
        "Count",
        Kind.STATISTICS,
        "records behind per owned partition (high-water mark minus committed offset): "
        "Maximum is the worst partition, Sum the total",
    ),
    MetricDefinition("InFlight", "Count", Kind.GAUGE, "invocations in flight"),
    MetricDefinition("PausedPartitions", "Count", Kind.GAUGE, "partitions paused (full buffer)"),
)
METRIC_NAMES = frozenset(metric.name for metric in METRICS)


class Histogram:
    """Samples binned on a logarithmic scale; `emf()` gives the EMF histogram value."""

    __slots__ = ("_bins", "_count", "_max", "_min", "_sum")

    def __init__(self) -> None:
        self._bins: Counter[int] = Counter()
        self._count = 0
        self._sum = 0.0
        self._min = math.inf
        self._max = -math.inf

    def add(self, value: float) -> None:
        # Called once per delivered record: comparisons instead of max()/min() calls, and
        # log(value) / _LOG_BIN_GROWTH, which is exactly what math.log(value, 1.1) computes.
        if value < 0.001:
            value = 0.001  # a log scale has no zero; a microsecond is small enough
        self._bins[math.floor(math.log(value) / _LOG_BIN_GROWTH)] += 1
        self._count += 1
        self._sum += value
        if value < self._min:
            self._min = value
        if value > self._max:
            self._max = value

    @property
    def count(self) -> int:
        return self._count

    def emf(self) -> dict[str, Any]:
        bins, width = dict(self._bins), 1
        while len(bins) > MAX_HISTOGRAM_BINS:  # merge neighbours until it fits
            width *= 2
            merged: Counter[int] = Counter()
            for index, count in self._bins.items():
                merged[index // width] += count
            bins = dict(merged)
        values = [_BIN_GROWTH ** ((index + 0.5) * width) for index in bins]
        return {
            "Values": [round(v, 3) for v in values],
            "Counts": list(bins.values()),
            "Max": self._max,
            "Min": self._min,
            "Count": self._count,
            "Sum": self._sum,
        }


def statistics(values: list[int]) -> dict[str, Any]:
    return {"Max": max(values), "Min": min(values), "Sum": sum(values), "Count": len(values)}


class MetricsEmitter:
    """Builds one EMF document per period from the bridge's counters and samples."""

    def __init__(
        self,
        namespace: str,
        service: str,
        topic: str,
        group: str,
        out: TextIO | None = sys.stdout,
    ) -> None:
        self._namespace = namespace
        self._dimensions = {"Service": service, "Topic": topic, "Group": group}
        self._out = out
        self._last_counts: dict[str, int] = {}
        self.invocation_latency_ms = Histogram()
        self.end_to_end_latency_ms = Histogram()

    def document(
        self, counts: dict[str, int], gauges: dict[str, int], lags: list[int]
    ) -> dict[str, Any]:
        """The EMF document for this period; counts are running totals, sent as deltas."""
        values: dict[str, Any] = {}
        for name, total in counts.items():
            values[name] = total - self._last_counts.get(name, 0)
        self._last_counts = dict(counts)
        values.update(gauges)
        if lags:
            values["ConsumerLag"] = statistics(lags)
        for name, histogram in (
            ("InvocationLatency", self.invocation_latency_ms),
            ("EndToEndLatency", self.end_to_end_latency_ms),
        ):
            if histogram.count:
                values[name] = histogram.emf()
        self.invocation_latency_ms = Histogram()
        self.end_to_end_latency_ms = Histogram()
        units = {metric.name: metric.unit for metric in METRICS}
        return {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self._namespace,
                        "Dimensions": [list(DIMENSION_NAMES)],
                        "Metrics": [{"Name": name, "Unit": units[name]} for name in values],
                    }
                ],
            },
            **self._dimensions,
            **values,
        }

    def emit(self, counts: dict[str, int], gauges: dict[str, int], lags: list[int]) -> None:
        document = self.document(counts, gauges, lags)  # starts the next period either way
        if self._out is not None:
            self._out.write(json.dumps(document) + "\n")
            self._out.flush()
