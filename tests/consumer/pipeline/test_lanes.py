"""Lane: which records the next batch takes, under each ordering, and what it counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from consumer.pipeline.lanes import Lane
from consumer.records import SEPARATOR, Batch, KafkaRecord, UndeliverableRecord
from consumer.settings.ordering import Ordering

TOPIC = "orders"
ENVELOPE = 2  # b"[" ... b"]"


class BracketEncoder:
    """A payload is the values joined by commas in brackets; a null value is undeliverable."""

    def __init__(self, max_records_per_payload: int | None = None) -> None:
        self.max_records_per_payload = max_records_per_payload
        self.encoded: Counter[int] = Counter()  # offset -> times encoded

    def encode_record(self, record: KafkaRecord) -> bytes:
        self.encoded[record.offset] += 1
        if record.value is None:
            raise UndeliverableRecord("null value")
        return record.value

    def envelope_size(self, topic: str, partition: int) -> int:
        return ENVELOPE

    def assemble(self, topic: str, partition: int, fragments: Sequence[bytes]) -> bytes:
        return b"[" + SEPARATOR.join(fragments) + b"]"


def record(offset: int, key: bytes | None = b"k", value: bytes | None = b"v") -> KafkaRecord:
    built: KafkaRecord = ConsumerRecord(
        topic=TOPIC,
        partition=0,
        offset=offset,
        timestamp=1_700_000_000_000 + offset,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=-1 if key is None else len(key),
        serialized_value_size=-1 if value is None else len(value),
        headers=[],
    )
    return built


def keyed(*keys: bytes | None, start: int = 0) -> list[KafkaRecord]:
    return [record(start + i, key) for i, key in enumerate(keys)]


def make_lane(ordering: Ordering = Ordering.key, **overrides: Any) -> Lane:
    arguments: dict[str, Any] = {
        "topic": TOPIC,
        "partition": 0,
        "ordering": ordering,
        "encoder": BracketEncoder(),
        "max_in_flight": 3,
        "max_batch_records": 10,
        "max_batch_bytes": 1_000_000,
        "max_buffered_records": 10_000,
        "max_buffered_bytes": 10_000_000,
        **overrides,
    }
    return Lane(**arguments)


def offsets(batch: Batch | None) -> list[int]:
    assert batch is not None
    return [r.offset for r in batch.records]


def take(lane: Lane) -> Batch:
    batch = lane.next_batch()
    assert batch is not None
    return batch


def dispatch_all(lane: Lane) -> list[Batch]:
    batches = []
    while (batch := lane.next_batch()) is not None:
        batches.append(batch)
    return batches


# -- key ordering ----------------------------------------------------------------------------


def test_batch_takes_several_records_of_one_key_in_offset_order() -> None:
    lane = make_lane()
    lane.add(keyed(b"a", b"a", b"b", b"a"))
    assert offsets(lane.next_batch()) == [0, 1, 2, 3]


def test_key_in_flight_holds_back_its_later_records_but_not_other_keys() -> None:
    lane = make_lane(max_batch_records=1)
    lane.add(keyed(b"a", b"b", b"a", b"c"))
    first, second, third = dispatch_all(lane)
    assert [offsets(first), offsets(second), offsets(third)] == [[0], [1], [3]]
    lane.complete(second)
    assert lane.next_batch() is None  # offset 2 waits for key a
    lane.complete(first)
    assert offsets(lane.next_batch()) == [2]


def test_null_key_records_flow_past_a_busy_key_and_run_concurrently() -> None:
    lane = make_lane(max_batch_records=1, max_in_flight=3)
    lane.add(keyed(b"a", b"a", None, None))
    batches = dispatch_all(lane)
    assert [offsets(b) for b in batches] == [[0], [2], [3]]
    assert lane.in_flight == 3


def test_hot_busy_key_backlog_is_not_rescanned_by_every_batch() -> None:
    lane = make_lane(max_batch_records=10, max_in_flight=2)
    lane.add(record(i, b"hot") for i in range(9))
    lane.add([record(9, b"cold")])  # so the hot key's next record stays a candidate
    lane.add(record(10 + i, b"hot") for i in range(10_000))
    lane.add(record(10_010 + i, b"cold-%d" % i) for i in range(1_000))
    hot_batch = lane.next_batch()
    assert offsets(hot_batch) == list(range(10))
    examined_before = lane.records_examined
    cold_batches = 0
    while (batch := lane.next_batch()) is not None:
        assert all(r.key != b"hot" for r in batch.records)
        lane.complete(batch)
        cold_batches += 1
    assert cold_batches == 100
    # Each scan looks at its 10 records plus at most the busy hot key's head, never the
    # 10,000 hot records waiting behind it.
    assert lane.records_examined - examined_before <= cold_batches * 11 + 1


def test_drained_lane_keeps_no_state_for_the_keys_it_has_seen() -> None:
    # White box: with ever-new keys (ids, UUIDs) memory must not grow with the keys seen.
    lane = make_lane(max_in_flight=2)
    for start in range(0, 10_000, 100):
        lane.add(record(start + i, b"%d" % (start + i)) for i in range(100))
        while (batch := lane.next_batch()) is not None:
            lane.complete(batch)
    assert lane.is_idle
    assert (lane._queues, lane._ready, lane._busy) == ({}, [], set())


# -- partition and none ordering ---------------------------------------------------------------


def test_partition_ordering_keeps_one_batch_in_flight_in_strict_offset_order() -> None:
    lane = make_lane(Ordering.partition, max_in_flight=5, max_batch_records=2)
    lane.add(keyed(b"a", b"b", None, b"c", b"d"))
    seen: list[int] = []
    while (batch := lane.next_batch()) is not None:
        assert lane.next_batch() is None
        assert lane.in_flight == 1
        seen += offsets(batch)
        lane.complete(batch)
    assert seen == [0, 1, 2, 3, 4]


def test_none_ordering_puts_max_in_flight_batches_of_one_key_in_flight() -> None:
    lane = make_lane(Ordering.none, max_in_flight=3, max_batch_records=1)
    lane.add(keyed(b"a", b"a", b"a", b"a"))
    assert [offsets(b) for b in dispatch_all(lane)] == [[0], [1], [2]]
    assert lane.in_flight == 3


# -- size limits -------------------------------------------------------------------------------


def test_batch_exactly_at_the_byte_limit_is_one_batch() -> None:
    lane = make_lane(max_batch_bytes=ENVELOPE + 3 * 3 + 2 * len(SEPARATOR))
    lane.add(record(i, value=b"abc") for i in range(3))
    batch = take(lane)
    assert offsets(batch) == [0, 1, 2]
    assert len(BracketEncoder().assemble(TOPIC, 0, batch.fragments)) == 13


def test_one_byte_over_the_limit_splits_the_batch() -> None:
    lane = make_lane(Ordering.none, max_batch_bytes=ENVELOPE + 3 * 3 + 2 * len(SEPARATOR) - 1)
    lane.add(record(i, value=b"abc") for i in range(3))
    assert [offsets(b) for b in dispatch_all(lane)] == [[0, 1], [2]]


def test_encoder_records_per_payload_caps_the_batch() -> None:
    lane = make_lane(Ordering.none, encoder=BracketEncoder(max_records_per_payload=2))
    lane.add(keyed(b"a", b"b", b"c"))
    assert [offsets(b) for b in dispatch_all(lane)] == [[0, 1], [2]]


def test_each_record_is_encoded_once_per_dispatch_even_when_it_ends_a_batch() -> None:
    encoder = BracketEncoder()
    lane = make_lane(Ordering.partition, encoder=encoder, max_batch_bytes=ENVELOPE + 7)
    lane.add(record(i, value=b"abc") for i in range(5))  # two fit per batch
    while (batch := lane.next_batch()) is not None:
        lane.complete(batch)
    assert encoder.encoded == Counter(range(5))


# -- undeliverable records -----------------------------------------------------------------


def test_record_that_cannot_be_encoded_comes_alone_and_keeps_its_key_busy() -> None:
    lane = make_lane(max_batch_records=10)
    lane.add([record(0, b"a", value=None), record(1, b"a"), record(2, b"b")])
    bad = take(lane)
    assert (offsets(bad), bad.fragments, bad.undeliverable) == ([0], [], "null value")
    assert lane.in_flight == 1
    assert offsets(lane.next_batch()) == [2]  # key a waits for the undeliverable record
    lane.complete(bad)  # dead-lettered
    assert offsets(lane.next_batch()) == [1]
    assert lane.committable_offset == 1


def test_record_that_cannot_be_encoded_ends_the_batch_before_it() -> None:
    lane = make_lane(Ordering.partition)
    lane.add([record(0), record(1), record(2, value=None), record(3)])
    first = take(lane)
    assert (offsets(first), first.undeliverable) == ([0, 1], None)
    lane.complete(first)
    second = take(lane)
    assert (offsets(second), second.undeliverable) == ([2], "null value")


def test_record_too_large_on_its_own_is_undeliverable() -> None:
    lane = make_lane(Ordering.none, max_batch_bytes=ENVELOPE + 4)
    lane.add([record(0, value=b"1234"), record(1, value=b"12345"), record(2, value=b"1")])
    batches = dispatch_all(lane)
    assert [(offsets(b), b.undeliverable is None) for b in batches] == [
        ([0], True),
        ([1], False),
        ([2], True),
    ]
    assert "7-byte payload" in (batches[1].undeliverable or "")
    assert "6-byte limit" in (batches[1].undeliverable or "")


def test_with_claim_checks_a_record_too_large_on_its_own_comes_alone_for_one() -> None:
    lane = make_lane(Ordering.none, max_batch_bytes=ENVELOPE + 4, claim_checks=True)
    lane.add([record(0, value=b"1234"), record(1, value=b"12345"), record(2, value=b"1")])
    batches = dispatch_all(lane)
    assert [(offsets(b), b.claim_check, b.undeliverable) for b in batches] == [
        ([0], False, None),
        ([1], True, None),
        ([2], False, None),
    ]
    assert batches[1].fragments == []  # delivery stores it and encodes its claim check


def test_with_claim_checks_a_record_that_cannot_be_encoded_is_still_undeliverable() -> None:
    lane = make_lane(Ordering.none, max_batch_bytes=ENVELOPE + 4, claim_checks=True)
    lane.add([record(0, value=None)])
    (batch,) = dispatch_all(lane)
    assert (batch.claim_check, batch.undeliverable) == (False, "null value")


def test_a_claim_check_batch_keeps_its_key_busy_and_its_offset_until_completed() -> None:
    lane = make_lane(max_batch_bytes=ENVELOPE + 4, claim_checks=True)
    lane.add([record(0, b"a", value=b"12345"), record(1, b"a"), record(2, b"b")])
    large = take(lane)
    assert (offsets(large), large.claim_check) == ([0], True)
    assert offsets(lane.next_batch()) == [2]  # key a waits for its large record
    assert lane.committable_offset == 0  # nothing may be committed past the large record
    lane.complete(large)
    assert offsets(lane.next_batch()) == [1]
    assert lane.committable_offset == 1


# -- completion and requeue -----------------------------------------------------------------


def test_records_not_done_go_back_ahead_of_newer_records_of_their_key() -> None:
    lane = make_lane()
    lane.add(keyed(b"a", b"a", b"a"))
    batch = take(lane)
    lane.add(keyed(b"a", b"b", start=3))
    assert offsets(lane.next_batch()) == [4]
    lane.complete(batch, done={0})
    assert offsets(lane.next_batch()) == [1, 2, 3]
    assert lane.committable_offset == 1


def test_requeue_from_concurrent_batches_restores_offset_order() -> None:
    lane = make_lane(Ordering.none, max_in_flight=2, max_batch_records=2)
    lane.add(keyed(None, None, None, None, None, None))
    first, second = dispatch_all(lane)
    lane.complete(first, done=[0])
    lane.complete(second, done=[2])  # offset 3 goes back behind 1, ahead of 4
    assert offsets(lane.next_batch()) == [1, 3]
    assert offsets(lane.next_batch()) == [4, 5]


def test_committable_offset_waits_for_the_oldest_batch() -> None:
    lane = make_lane(Ordering.none, max_in_flight=3, max_batch_records=2)
    assert lane.committable_offset is None
    lane.add(keyed(*[None] * 6, start=100))
    first, second, third = dispatch_all(lane)
    lane.complete(third)
    assert lane.committable_offset == 100
    lane.complete(first)
    assert lane.committable_offset == 102
    lane.complete(second)
    assert lane.committable_offset == 106
    assert lane.is_idle


def test_filtered_records_are_never_batched_and_the_commit_passes_them() -> None:
    lane = make_lane(Ordering.none)
    fetched = keyed(b"a", b"b", b"c", b"d", b"e", start=10)
    lane.add([fetched[1], fetched[3]], fetched_through=14)  # 10, 12, 14 filtered out
    assert lane.pending_records == 2
    assert lane.buffered_records == 2
    batch = take(lane)
    assert offsets(batch) == [11, 13]
    assert lane.committable_offset == 11  # 10 is done; 11 is not yet
    lane.complete(batch)
    assert lane.committable_offset == 15
    assert lane.is_idle


def test_a_fetch_filtered_out_entirely_moves_the_commit_without_a_batch() -> None:
    lane = make_lane()
    lane.add([], fetched_through=41)
    assert lane.next_batch() is None
    assert lane.committable_offset == 42


def test_completing_a_batch_twice_is_refused() -> None:
    lane = make_lane()
    lane.add(keyed(b"a"))
    batch = take(lane)
    lane.complete(batch)
    with pytest.raises(ValueError, match="complete each batch once"):
        lane.complete(batch)
    assert lane.in_flight == 0


def test_done_offsets_outside_the_batch_are_refused_and_change_nothing() -> None:
    lane = make_lane()
    lane.add(keyed(b"a", b"a"))
    batch = take(lane)
    with pytest.raises(ValueError, match="not all in the batch"):
        lane.complete(batch, done={0, 7})
    assert (lane.in_flight, lane.committable_offset) == (1, 0)
    lane.complete(batch)
    assert lane.committable_offset == 2


def test_offset_out_of_order_is_refused_and_the_records_before_it_stay_queued() -> None:
    lane = make_lane()
    with pytest.raises(ValueError, match="increasing offset order"):
        lane.add([record(5), record(6), record(6)])
    assert (lane.pending_records, lane.buffered_records) == (2, 2)
    assert offsets(lane.next_batch()) == [5, 6]


# -- buffer bounds -------------------------------------------------------------------------


def test_pause_at_the_record_bound_and_resume_below_half_of_it() -> None:
    lane = make_lane(Ordering.partition, max_buffered_records=4, max_batch_records=1)
    lane.add(keyed(b"a", b"a", b"a"))
    assert not lane.should_pause
    lane.add(keyed(b"a", start=3))
    assert lane.should_pause
    for _ in range(2):
        lane.complete(take(lane))
    assert (lane.buffered_records, lane.should_pause, lane.may_resume) == (2, False, False)
    lane.complete(take(lane))
    assert (lane.buffered_records, lane.may_resume) == (1, True)


def test_pause_at_the_byte_bound_counting_key_and_value_of_pending_and_in_flight() -> None:
    lane = make_lane(max_buffered_bytes=20, max_batch_records=1)
    lane.add([record(0, b"k", b"123456789")])  # 10 bytes
    batch = take(lane)
    assert (lane.buffered_bytes, lane.should_pause, lane.may_resume) == (10, False, False)
    lane.add([record(1, None, b"1234567890")])
    assert (lane.buffered_bytes, lane.should_pause) == (20, True)
    lane.complete(batch)
    assert (lane.buffered_bytes, lane.should_pause, lane.may_resume) == (10, False, False)
    lane.complete(take(lane))
    assert (lane.buffered_bytes, lane.may_resume, lane.is_idle) == (0, True, True)


@pytest.mark.parametrize(
    "setting", ["max_in_flight", "max_batch_records", "max_buffered_records", "max_buffered_bytes"]
)
def test_limits_below_one_are_refused_by_name(setting: str) -> None:
    with pytest.raises(ValueError, match=setting):
        make_lane(Ordering.key, **{setting: 0})


def test_byte_limit_without_room_for_a_record_is_refused() -> None:
    with pytest.raises(ValueError, match="max_batch_bytes=2 leaves no room"):
        make_lane(max_batch_bytes=ENVELOPE)


# -- any interleaving, against a reference model ---------------------------------------------


def reference_batch(
    pending: Iterable[KafkaRecord],
    busy_keys: set[bytes],
    ordering: Ordering,
    max_records: int,
    max_bytes: int,
) -> tuple[list[int], bool]:
    """The spec as a plain scan: (offsets of the next batch, whether it is undeliverable)."""
    taken: list[KafkaRecord] = []
    size = ENVELOPE - len(SEPARATOR)
    for r in pending:
        if ordering is Ordering.key and r.key is not None and r.key in busy_keys:
            continue
        if r.value is None or ENVELOPE + len(r.value) > max_bytes:
            if taken:
                break  # it goes alone, next time
            return [r.offset], True
        if size + len(SEPARATOR) + len(r.value) > max_bytes:
            break
        size += len(SEPARATOR) + len(r.value)
        taken.append(r)
        if len(taken) == max_records:
            break
    return [t.offset for t in taken], False


class LaneMachine(RuleBasedStateMachine):
    """Random add / next_batch / complete sequences; the lane must match the plain scan."""

    def __init__(self) -> None:
        super().__init__()
        self.next_offset = 0
        self.pending: list[KafkaRecord] = []  # in offset order
        self.in_flight: list[Batch] = []
        self.done: set[int] = set()
        self.added: list[KafkaRecord] = []

    @initialize(
        ordering=st.sampled_from(Ordering),
        max_in_flight=st.integers(1, 3),
        max_batch_records=st.integers(1, 5),
        max_batch_bytes=st.integers(ENVELOPE + 1, 30),
        per_payload=st.none() | st.integers(1, 4),
        max_buffered_records=st.integers(1, 20),
        max_buffered_bytes=st.integers(1, 200),
    )
    def start(
        self,
        ordering: Ordering,
        max_in_flight: int,
        max_batch_records: int,
        max_batch_bytes: int,
        per_payload: int | None,
        max_buffered_records: int,
        max_buffered_bytes: int,
    ) -> None:
        self.ordering = ordering
        self.max_in_flight = 1 if ordering is Ordering.partition else max_in_flight
        self.max_records = min(max_batch_records, per_payload or max_batch_records)
        self.max_bytes = max_batch_bytes
        self.max_buffered = (max_buffered_records, max_buffered_bytes)
        self.lane = make_lane(
            ordering,
            encoder=BracketEncoder(per_payload),
            max_in_flight=max_in_flight,
            max_batch_records=max_batch_records,
            max_batch_bytes=max_batch_bytes,
            max_buffered_records=max_buffered_records,
            max_buffered_bytes=max_buffered_bytes,
        )

    @rule(
        new=st.lists(
            st.tuples(
                st.integers(1, 3),  # gap to the previous offset
                st.sampled_from([b"a", b"b", b"c", None]),
                st.none() | st.binary(max_size=12),  # None: undeliverable
            ),
            max_size=8,
        )
    )
    def add(self, new: list[tuple[int, bytes | None, bytes | None]]) -> None:
        records = []
        for gap, key, value in new:
            self.next_offset += gap
            records.append(record(self.next_offset, key, value))
        self.lane.add(records)
        self.pending += records
        self.added += records

    @rule()
    def next_batch(self) -> None:
        busy = {r.key for b in self.in_flight for r in b.records if r.key is not None}
        expected: tuple[list[int], bool] = ([], False)
        if len(self.in_flight) < self.max_in_flight:
            expected = reference_batch(
                self.pending, busy, self.ordering, self.max_records, self.max_bytes
            )
        batch = self.lane.next_batch()
        if batch is None:
            assert expected == ([], False)
            return
        assert (offsets(batch), batch.undeliverable is not None) == expected
        assert batch.fragments == ([] if batch.undeliverable else [r.value for r in batch.records])
        self.check_order_at_dispatch(batch)
        taken = set(offsets(batch))
        self.pending = [r for r in self.pending if r.offset not in taken]
        self.in_flight.append(batch)

    def check_order_at_dispatch(self, batch: Batch) -> None:
        """Everything that must go before a dispatched record is done or before it here."""
        before_in_batch: set[int] = set()
        for r in batch.records:
            for earlier in self.added:
                if earlier.offset >= r.offset:
                    break
                constrained = self.ordering is Ordering.partition or (
                    self.ordering is Ordering.key and r.key is not None and earlier.key == r.key
                )
                if constrained:
                    assert earlier.offset in self.done or earlier.offset in before_in_batch
            before_in_batch.add(r.offset)

    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        if not self.in_flight:
            return
        batch = self.in_flight.pop(data.draw(st.integers(0, len(self.in_flight) - 1)))
        done: set[int] | None = None
        if data.draw(st.booleans(), label="partial"):
            done = set(data.draw(st.sets(st.sampled_from(offsets(batch)))))
        self.lane.complete(batch, done)
        finished = set(offsets(batch)) if done is None else done
        self.done |= finished
        self.pending = sorted(
            self.pending + [r for r in batch.records if r.offset not in finished],
            key=lambda r: r.offset,
        )

    @invariant()
    def bookkeeping_matches(self) -> None:
        lane = self.lane
        buffered = self.pending + [r for b in self.in_flight for r in b.records]
        size = sum(len(r.key or b"") + len(r.value or b"") for r in buffered)
        assert lane.in_flight == len(self.in_flight) <= self.max_in_flight
        assert lane.pending_records == len(self.pending)
        assert (lane.buffered_records, lane.buffered_bytes) == (len(buffered), size)
        max_records, max_bytes = self.max_buffered
        assert lane.should_pause == (len(buffered) >= max_records or size >= max_bytes)
        assert lane.may_resume == (2 * len(buffered) < max_records and 2 * size < max_bytes)
        assert lane.is_idle == (not buffered)
        undone = [r.offset for r in self.added if r.offset not in self.done]
        if not self.added:
            assert lane.committable_offset is None
        else:
            assert lane.committable_offset == (undone[0] if undone else self.next_offset + 1)

    @invariant()
    def same_key_never_in_two_batches_in_flight(self) -> None:
        if self.ordering is not Ordering.key:
            return
        keys = [{r.key for r in b.records if r.key is not None} for b in self.in_flight]
        assert sum(len(k) for k in keys) == len(set().union(*keys))


LaneMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
TestLaneInterleavings = LaneMachine.TestCase
