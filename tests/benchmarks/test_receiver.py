"""The benchmark's function: what it counts of native and legacy payloads."""

from __future__ import annotations

import json
import time

from aiokafka.structs import ConsumerRecord

from benchmarks.receiver import Receiver, record_id, records_of
from benchmarks.workload import Workload
from consumer.payloads.encoders import LegacyEncoder, NativeEncoder

TOPIC = "bench"


def record(partition: int, offset: int, timestamp_ms: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        TOPIC, partition, offset, timestamp_ms, 0, b"k", b'{"v":1}', None, 1, 7, []
    )


def native_event(partition: int, offsets: range, timestamp_ms: int = 0) -> object:
    encoder = NativeEncoder("127.0.0.1:9092")
    fragments = [encoder.encode_record(record(partition, o, timestamp_ms)) for o in offsets]
    return json.loads(encoder.assemble(TOPIC, partition, fragments))


def test_records_are_read_from_native_events_and_legacy_arrays() -> None:
    legacy = LegacyEncoder()
    array = json.loads(
        legacy.assemble(TOPIC, 0, [legacy.encode_record(record(p, 5, 0)) for p in (1, 2)])
    )
    assert [(r["partition"], r["offset"]) for r in records_of(array)] == [(1, 5), (2, 5)]
    native = native_event(3, range(2))
    assert [(r["partition"], r["offset"]) for r in records_of(native)] == [(3, 0), (3, 1)]


def test_duplicates_are_deliveries_beyond_the_distinct_records() -> None:
    receiver = Receiver()
    receiver.receive(native_event(0, range(3)))
    receiver.receive(native_event(0, range(2, 4)))
    receiver.receive(native_event(1, range(2)))
    assert (receiver.deliveries, len(receiver.seen), receiver.duplicates) == (7, 6, 1)
    assert receiver.invocations == 3


def test_reached_is_set_once_the_expected_distinct_records_arrived() -> None:
    receiver = Receiver()
    receiver.expect(4)
    receiver.receive(native_event(0, range(3)))
    receiver.receive(native_event(0, range(3)))
    assert receiver.first_receipt.is_set()
    assert not receiver.reached.is_set()
    receiver.receive(native_event(1, range(1)))
    assert receiver.reached.is_set()
    receiver.expect(5)
    assert not receiver.reached.is_set()


def test_latency_is_taken_only_on_live_records_from_when_they_were_produced() -> None:
    receiver = Receiver()
    now_ms = int(time.time() * 1000)
    receiver.receive(native_event(0, range(10), timestamp_ms=now_ms - 60_000))
    assert receiver.latencies_ms == []
    receiver.live_from = {0: 10}
    # offsets 10 and 11 were produced 250 and 5,000 ms ago; the record's own time (whole
    # seconds, say) is not what counts
    receiver.produced_ms = {0: [now_ms - 250, now_ms - 5_000]}
    receiver.receive(native_event(0, range(8, 12), timestamp_ms=now_ms - 60_000))
    assert len(receiver.latencies_ms) == 2
    first, second = receiver.latencies_ms
    assert 250 <= first < 1_250
    assert 5_000 <= second < 6_000


def test_records_below_the_committed_offsets_are_the_ones_that_count_for_loss() -> None:
    receiver = Receiver()
    receiver.receive(native_event(0, range(5)))
    receiver.receive(native_event(1, range(3, 6)))
    # partition 0 committed to 4 (0..3 received), 1 to 6 (3..5 of 0..5), 2 to 2 (none)
    assert receiver.seen_below({0: 4, 1: 6, 2: 2}) == 4 + 3


def test_a_bare_value_is_found_at_the_partition_and_offset_its_loading_gave_it() -> None:
    workload = Workload(partitions=4)
    # As Environment.load writes them: records in index order, each to its key's partition.
    offsets: dict[int, int] = {}
    placed = {}
    for index in range(40):
        partition = workload.partition(index)
        placed[index] = (partition, offsets.get(partition, 0))
        offsets[partition] = offsets.get(partition, 0) + 1
    receiver = Receiver(workload=workload)
    for index in (0, 5, 39, 5):
        receiver.receive(json.loads(workload.value(index)))
    assert [
        (r["partition"], r["offset"]) for r in records_of(json.loads(workload.value(39)), workload)
    ] == [placed[39]]
    assert receiver.seen == {record_id(*placed[i]) for i in (0, 5, 39)}
    assert receiver.deliveries == 4  # the second 5 is a duplicate
