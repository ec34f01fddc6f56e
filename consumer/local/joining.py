"""What the local mode says before the bridge has its partitions: what it waits for, then
which partitions the group assigned it. Until then no record can be fetched, so a count of
records done would say nothing (joining a group takes Tansu about 5 s)."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.structs import TopicPartition

from consumer.local.summary import counted
from consumer.pipeline.status import Stage


def waiting_line(stage: Stage, group_id: str, elapsed_s: float) -> str:
    """The line shown in the progress line's place while the bridge starts and joins."""
    if stage is Stage.STARTING:
        doing = "starting the bridge: checking the function, reaching the brokers…"
    else:
        doing = f"joining the consumer group {group_id}, waiting for its partitions…"
    return f"{elapsed_s:5.1f} s  {doing}"


def assigned_line(
    group_id: str, delivering: Iterable[TopicPartition], waiting: Iterable[TopicPartition]
) -> str:
    """`kafka-to-lambda-local joined: 20 partitions assigned (local-records 0-19)`, and how
    many wait for their previous owner's lease (that owner may still be invoking them)."""
    waiting = list(waiting)
    assigned = [*delivering, *waiting]
    joined = f"{group_id} joined: "
    if not assigned:
        return joined + "no partition assigned (the group's other members have them all)"
    line = joined + f"{counted(len(assigned), 'partition')} assigned ({partition_ranges(assigned)})"
    if waiting:
        line += (
            f", {len(waiting):,} of them waiting for their previous owner's lease to end "
            f"({partition_ranges(waiting)})"
        )
    return line


def partition_ranges(partitions: Iterable[TopicPartition]) -> str:
    """`local-records 0-4, 7, 9-19`: each topic's partition numbers, runs as ranges."""
    by_topic: dict[str, list[int]] = {}
    for partition in partitions:
        by_topic.setdefault(partition.topic, []).append(partition.partition)
    return "; ".join(
        f"{topic} {_ranges(sorted(set(numbers)))}" for topic, numbers in sorted(by_topic.items())
    )


def _ranges(numbers: list[int]) -> str:
    runs: list[tuple[int, int]] = []
    for number in numbers:
        if runs and runs[-1][1] == number - 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in runs)
