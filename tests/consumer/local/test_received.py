"""What the function took, counted from the local Lambda's invocations: records per payload
format, partial failures left out, duplicates counted once per record."""

from __future__ import annotations

import random
from typing import Any

import pytest

from consumer.local.invocations import (
    Arrival,
    Invocation,
    InvocationRecord,
    InvocationType,
    Outcome,
)
from consumer.local.received import OffsetSet, ReceivedTally, records_in_event, records_taken
from consumer.settings.payload_format import PayloadFormat


def native(*offsets: int, partition: int = 0) -> dict[str, Any]:
    records = [{"topic": "t", "partition": partition, "offset": o} for o in offsets]
    return {"eventSource": "SelfManagedKafka", "records": {f"t-{partition}": records}}


def finished(
    event: Any, outcome: Outcome = Outcome.OK, response: Any = None, name: str = "f"
) -> Invocation:
    arrival = Arrival("r", name, None, InvocationType.REQUEST_RESPONSE, 0.0)
    return arrival.finish(outcome, event=event, response=response)


def test_native_and_legacy_events_name_their_records_and_a_value_event_does_not() -> None:
    assert records_in_event(native(4, 5, partition=2), PayloadFormat.NATIVE) == [
        ("t", 2, 4),
        ("t", 2, 5),
    ]
    legacy = [{"topic": "t", "partition": 1, "offset": 9, "key": None, "value": "{}"}]
    assert records_in_event(legacy, PayloadFormat.LEGACY) == [("t", 1, 9)]
    assert records_in_event({"n": 1}, PayloadFormat.VALUE) is None


@pytest.mark.parametrize(
    ("outcome", "response", "taken"),
    [
        (Outcome.OK, None, [1, 2, 3]),
        (Outcome.OK, {"batchItemFailures": [{"itemIdentifier": "2"}]}, [1, 3]),
        (Outcome.OK, {"batchItemFailures": [{"oops": 1}]}, []),  # malformed: all retried
        (Outcome.FUNCTION_ERROR, None, []),
        (Outcome.TIMEOUT, None, []),
    ],
)
def test_only_records_a_successful_invocation_did_not_report_failed_are_taken(
    outcome: Outcome, response: Any, taken: list[int]
) -> None:
    invocation = finished(native(1, 2, 3), outcome, response)
    assert [o for _, _, o in records_taken(invocation, PayloadFormat.NATIVE)] == taken


def test_an_offset_set_matches_a_plain_set_and_keeps_one_range_per_gap() -> None:
    draws = random.Random(7)
    offsets = OffsetSet()
    plain: set[int] = set()
    for _ in range(3000):
        offset = draws.randrange(1000)
        assert offsets.add(offset) is (offset not in plain)
        plain.add(offset)
    assert all((o in offsets) is (o in plain) for o in range(-1, 1001))
    gaps = sum(1 for o in range(1000) if o in plain and o - 1 not in plain)
    assert offsets.ranges == gaps


def test_the_tally_counts_records_taken_twice_once_each_from_the_record_it_listens_to() -> None:
    record = InvocationRecord(max_kept=1)  # the tally sees even what the record drops
    tally = ReceivedTally("f", PayloadFormat.NATIVE)
    record.listen(tally.observe)
    for invocation in (
        finished(native(0, 1, 2)),
        finished(native(3, 4), Outcome.FUNCTION_ERROR),  # given, not taken
        finished(native(2, 3, 4)),  # 2 again
        finished(native(2), name="another-function"),
        finished(native(2, 4)),  # 2 a third time, 4 again
    ):
        record.add(invocation)

    assert (tally.taken, tally.duplicates) == (5, 2)


def test_the_tally_of_a_value_format_run_is_unknown() -> None:
    tally = ReceivedTally("f", PayloadFormat.VALUE)
    tally.observe(finished({"n": 1}))
    assert (tally.taken, tally.duplicates) == (None, None)
