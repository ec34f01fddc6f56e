"""Metrics: EMF documents that follow the specification and count what really happened."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from typing import Any

from consumer.local import FunctionSpec, LocalLambda
from consumer.operations.metrics import DIMENSION_NAMES, METRICS, Histogram, Kind
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    bridge_environment,
    bridge_process,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord

# CloudWatch's StandardUnit values (the EMF specification's list of valid units).
CLOUDWATCH_UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
}  # fmt: skip


def assert_valid_emf(document: dict[str, Any]) -> None:
    """The EMF specification's rules for a document's structure and references."""
    metadata = document["_aws"]
    assert isinstance(metadata["Timestamp"], int)
    assert metadata["Timestamp"] > 0
    for directive in metadata["CloudWatchMetrics"]:
        assert isinstance(directive["Namespace"], str)
        assert directive["Namespace"]
        for dimension_set in directive["Dimensions"]:
            assert 1 <= len(dimension_set) <= 30
            for dimension in dimension_set:
                assert isinstance(document[dimension], str), f"dimension {dimension} missing"
        assert len(directive["Metrics"]) <= 100
        for metric in directive["Metrics"]:
            assert metric.get("Unit", "None") in CLOUDWATCH_UNITS
            value = document[metric["Name"]]  # every metric names a member of the document
            if isinstance(value, dict):
                assert {"Max", "Min", "Sum", "Count"} <= set(value)
                if "Values" in value:
                    assert len(value["Values"]) == len(value["Counts"]) <= 100
                    assert sum(value["Counts"]) == value["Count"]
            else:
                assert isinstance(value, int | float), (metric["Name"], value)


def test_a_histogram_keeps_every_sample_in_at_most_a_hundred_bins() -> None:
    histogram = Histogram()
    samples = [0.5 * 1.05**i for i in range(400)]  # from half a millisecond to hours
    for sample in samples:
        histogram.add(sample)
    emf = histogram.emf()
    assert len(emf["Values"]) <= 100
    assert sum(emf["Counts"]) == emf["Count"] == len(samples)
    assert emf["Max"] == max(samples)
    assert emf["Min"] == min(samples)
    assert abs(emf["Sum"] - sum(samples)) < 1e-6 * sum(samples)


def test_a_narrow_histogram_bins_values_within_ten_percent() -> None:
    histogram = Histogram()
    for sample in (100, 101, 103, 250):
        histogram.add(sample)
    bins = dict(zip(histogram.emf()["Values"], histogram.emf()["Counts"], strict=True))
    assert sum(count for value, count in bins.items() if 90 < value < 115) == 3
    assert sum(count for value, count in bins.items() if 225 < value < 275) == 1


async def test_metrics_lines_count_what_went_through_the_bridge(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=3)
    produced = await kafka.produce(
        topic_name, [TestRecord(key=f"k{i}".encode(), value=b"v") for i in range(300)]
    )
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, latency_s=0.01))
    group = f"g-{uuid.uuid4().hex}"
    env = bridge_environment(
        kafka, local_lambda.url, topic_name, group, metrics_interval_seconds=0.5, batch_size=20
    )
    process = await bridge_process(env)
    await wait_for_deliveries(local_lambda, sink, len(produced))
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    documents = [
        json.loads(line) for line in output.decode().splitlines() if line.startswith('{"_aws"')
    ]
    assert documents, "no metrics line was written"

    for document in documents:
        assert_valid_emf(document)
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert directive["Dimensions"] == [list(DIMENSION_NAMES)]
        assert directive["Namespace"] == "KafkaToLambda"
        assert (document["Service"], document["Topic"], document["Group"]) == (
            "kafka-to-lambda",
            topic_name,
            group,
        )
        units = {metric.name: metric.unit for metric in METRICS}
        assert all(m["Unit"] == units[m["Name"]] for m in directive["Metrics"])

    def total(name: str) -> int:
        return sum(d.get(name, 0) for d in documents)

    invocations = [i for i in local_lambda.record.invocations(FUNCTION) if i.outcome != "dry_run"]
    assert total("RecordsConsumed") == total("RecordsDelivered") == len(produced)
    assert total("Invocations") == len(invocations)
    latency_samples = sum(
        d["InvocationLatency"]["Count"] for d in documents if "InvocationLatency" in d
    )
    assert latency_samples == len(invocations)
    slowest = max(d["InvocationLatency"]["Max"] for d in documents if "InvocationLatency" in d)
    assert slowest >= 10, "the function's 10 ms show in the invocation latency"
    end_to_end = sum(d["EndToEndLatency"]["Count"] for d in documents if "EndToEndLatency" in d)
    assert end_to_end == len(produced)
    assert documents[-1]["ConsumerLag"] == {"Max": 0, "Min": 0, "Sum": 0, "Count": 3}
    assert documents[-1]["InFlight"] == 0
    counted = {metric.name for metric in METRICS if metric.kind is Kind.COUNT}
    assert counted <= set().union(*documents), "every count is reported"
