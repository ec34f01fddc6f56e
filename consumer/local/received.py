"""What the function was given: the records in an event, and a tally of them over a run.

The local mode's summary reports the records the handler took and the duplicates it saw
(records given again after an invocation had already taken them). Both are read from the
local Lambda's invocations, as they finish, decoded by payload format. A `value` event is
the record's own value and says nothing of where it came from: no tally is possible then.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable
from typing import Any

from consumer.aws_lambda.answers import parse_batch_item_failures
from consumer.local.invocations import Invocation, Outcome
from consumer.settings.payload_format import PayloadFormat

RecordId = tuple[str, int, int]  # topic, partition, offset
Partition = tuple[str, int]


def records_in_event(event: Any, payload_format: PayloadFormat) -> list[RecordId] | None:
    """The records an event carries, in order; None when the format does not say (`value`)."""
    if payload_format is PayloadFormat.NATIVE:
        return [
            (record["topic"], record["partition"], record["offset"])
            for records in event["records"].values()
            for record in records
        ]
    if payload_format is PayloadFormat.LEGACY:
        return [(record["topic"], record["partition"], record["offset"]) for record in event]
    return None


def records_taken(invocation: Invocation, payload_format: PayloadFormat) -> list[RecordId]:
    """The records a successful invocation took: all it was given but those it reported in
    `batchItemFailures` (read as the bridge reads them; "*" means none was taken)."""
    if invocation.outcome is not Outcome.OK:
        return []
    given = records_in_event(invocation.event, payload_format) or []
    failed = parse_batch_item_failures(json.dumps(invocation.response).encode())
    if not failed:
        return given
    if "*" in failed:
        return []
    return [record for record in given if str(record[2]) not in failed]


class OffsetSet:
    """A set of offsets kept as sorted, disjoint [start, end) ranges.

    A partition's delivered offsets form one range per gap (a dead letter, a record not yet
    delivered), so a run of millions of records costs a few ranges, not millions of ints.
    """

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []  # exclusive; _ends[i] < _starts[i + 1]

    def __contains__(self, offset: int) -> bool:
        index = bisect.bisect_right(self._starts, offset) - 1
        return index >= 0 and offset < self._ends[index]

    def add(self, offset: int) -> bool:
        """Adds `offset`; False if it was there already."""
        index = bisect.bisect_right(self._starts, offset) - 1
        if index >= 0 and offset < self._ends[index]:
            return False
        joins_left = index >= 0 and self._ends[index] == offset
        joins_right = index + 1 < len(self._starts) and self._starts[index + 1] == offset + 1
        if joins_left and joins_right:
            self._ends[index] = self._ends[index + 1]
            del self._starts[index + 1], self._ends[index + 1]
        elif joins_left:
            self._ends[index] = offset + 1
        elif joins_right:
            self._starts[index + 1] = offset
        else:
            self._starts.insert(index + 1, offset)
            self._ends.insert(index + 1, offset + 1)
        return True

    @property
    def ranges(self) -> int:
        return len(self._starts)


class ReceivedTally:
    """Counts what one function took, from the invocations it is shown (`observe`).

    `taken` is the number of distinct records taken; `duplicates` the number of distinct
    records taken more than once. Both are None for the `value` format.
    """

    def __init__(self, function_name: str, payload_format: PayloadFormat) -> None:
        self._function_name = function_name
        self._format = payload_format
        self._taken: dict[Partition, OffsetSet] = {}
        self._again: dict[Partition, OffsetSet] = {}
        self._taken_count = 0
        self._duplicate_count = 0

    @property
    def known(self) -> bool:
        return self._format is not PayloadFormat.VALUE

    @property
    def taken(self) -> int | None:
        return self._taken_count if self.known else None

    @property
    def duplicates(self) -> int | None:
        return self._duplicate_count if self.known else None

    def observe(self, invocation: Invocation) -> None:
        if invocation.function_name == self._function_name:
            self._count(records_taken(invocation, self._format))

    def _count(self, records: Iterable[RecordId]) -> None:
        for topic, partition, offset in records:
            key = (topic, partition)
            if self._taken.setdefault(key, OffsetSet()).add(offset):
                self._taken_count += 1
            elif self._again.setdefault(key, OffsetSet()).add(offset):
                self._duplicate_count += 1
