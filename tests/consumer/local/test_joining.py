"""What the start says while the bridge joins its group, and the partitions it was given."""

from __future__ import annotations

from aiokafka.structs import TopicPartition

from consumer.local.joining import assigned_line, partition_ranges, waiting_line
from consumer.pipeline.status import Stage


def partitions(topic: str, *numbers: int) -> list[TopicPartition]:
    return [TopicPartition(topic, n) for n in numbers]


def test_the_waiting_line_names_what_the_bridge_waits_for_with_the_time_so_far() -> None:
    assert waiting_line(Stage.STARTING, "g", 0.04) == (
        "  0.0 s  starting the bridge: checking the function, reaching the brokers…"
    )
    assert waiting_line(Stage.JOINING, "kafka-to-lambda-local", 2.13) == (
        "  2.1 s  joining the consumer group kafka-to-lambda-local, waiting for its partitions…"
    )


def test_partition_numbers_read_as_runs_per_topic() -> None:
    assert partition_ranges(partitions("t", *range(20))) == "t 0-19"
    assert partition_ranges(partitions("t", 9, 0, 1, 2, 7, 10, 11)) == "t 0-2, 7, 9-11"
    assert partition_ranges([*partitions("b", 1), *partitions("a", 0, 1)]) == "a 0-1; b 1"


def test_the_assigned_line_counts_the_partitions_and_those_waiting_for_a_lease() -> None:
    assert assigned_line("g", partitions("local-records", *range(20)), []) == (
        "g joined: 20 partitions assigned (local-records 0-19)"
    )
    assert assigned_line("g", partitions("t", 0, 2), partitions("t", 1)) == (
        "g joined: 3 partitions assigned (t 0-2), 1 of them waiting for their previous "
        "owner's lease to end (t 1)"
    )
    assert assigned_line("g", [], []) == (
        "g joined: no partition assigned (the group's other members have them all)"
    )
