"""OffsetTracker: the committable offset never passes a record that is not done."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.pipeline.offsets import OffsetTracker

# Increasing offsets with gaps (compacted topics, transaction markers), from any start.
offsets_with_gaps = st.builds(
    lambda start, steps: [start + sum(steps[: i + 1]) for i in range(len(steps))],
    st.integers(min_value=0, max_value=10**12),
    st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=60),
)


def test_nothing_tracked_means_nothing_to_commit() -> None:
    assert OffsetTracker().committable_offset is None


def test_offset_not_committed_until_all_lower_offsets_done() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 12):
        tracker.track(offset)
    tracker.mark_done(12)
    tracker.mark_done(11)
    assert tracker.committable_offset == 10
    tracker.mark_done(10)
    assert tracker.committable_offset == 13


def test_gap_after_done_offsets_is_skipped_by_the_commit() -> None:
    tracker = OffsetTracker()
    tracker.track(5)
    tracker.track(9)  # 6..8 are not in the log: a transaction marker, compacted records
    tracker.mark_done(5)
    assert tracker.committable_offset == 9
    tracker.mark_done(9)
    assert tracker.committable_offset == 10


def test_tracking_out_of_order_is_refused() -> None:
    tracker = OffsetTracker()
    tracker.track(5)
    with pytest.raises(ValueError, match="increasing offset order"):
        tracker.track(5)
    with pytest.raises(ValueError, match="increasing offset order"):
        tracker.track(4)


@pytest.mark.parametrize("offset", [3, 6, 7])
def test_marking_an_untracked_offset_done_is_refused(offset: int) -> None:
    tracker = OffsetTracker()
    tracker.track(5)
    tracker.track(7)
    tracker.mark_done(7)
    with pytest.raises(ValueError, match="exactly once"):
        tracker.mark_done(offset)  # never tracked (3, 6) or already done (7)
    assert tracker.committable_offset == 5


@given(offsets=offsets_with_gaps, data=st.data())
def test_committable_offset_is_lowest_undone_and_never_moves_back(
    offsets: list[int], data: st.DataObject
) -> None:
    tracker = OffsetTracker()
    for offset in offsets:
        tracker.track(offset)
    order = data.draw(st.permutations(offsets), label="done order")
    undone = set(offsets)
    previous = tracker.committable_offset
    assert previous == offsets[0]
    for offset in order:
        tracker.mark_done(offset)
        undone.discard(offset)
        committable = tracker.committable_offset
        assert committable is not None
        assert committable >= previous
        assert all(committable <= pending for pending in undone)  # never passes an undone
        expected = min(undone) if undone else offsets[-1] + 1
        assert committable == expected
        assert tracker.undone_count == len(undone)
        previous = committable
    assert tracker.committable_offset == offsets[-1] + 1


@given(
    operations=st.lists(
        st.one_of(
            st.tuples(st.just("track"), st.integers(min_value=1, max_value=4)),
            st.tuples(st.just("done"), st.integers(min_value=0, max_value=10**6)),
        ),
        max_size=200,
    )
)
def test_tracking_and_completion_interleaved_keep_the_commit_safe(
    operations: list[tuple[str, int]],
) -> None:
    tracker = OffsetTracker()
    next_offset = 0
    tracked: list[int] = []
    undone: list[int] = []
    previous: int | None = None
    for operation, number in operations:
        if operation == "track":
            next_offset += number  # a gap of number - 1
            tracker.track(next_offset)
            tracked.append(next_offset)
            undone.append(next_offset)
        elif undone:
            tracker.mark_done(undone.pop(number % len(undone)))
        committable = tracker.committable_offset
        if not tracked:
            assert committable is None
            continue
        expected = min(undone) if undone else tracked[-1] + 1
        assert committable == expected
        assert previous is None or committable >= previous
        previous = committable


def test_filtered_records_at_the_tail_are_passed_by_the_commit() -> None:
    tracker = OffsetTracker()
    tracker.track(10)
    tracker.pass_over(14)  # 11..14 fetched and filtered out
    assert tracker.committable_offset == 10  # 10 is not done yet
    tracker.mark_done(10)
    assert tracker.committable_offset == 15


def test_a_fetch_filtered_out_entirely_still_moves_the_commit() -> None:
    tracker = OffsetTracker()
    tracker.pass_over(99)
    assert tracker.committable_offset == 100
    tracker.track(100)
    assert tracker.committable_offset == 100


def test_passing_over_backwards_is_refused() -> None:
    tracker = OffsetTracker()
    tracker.track(5)
    with pytest.raises(ValueError, match="increasing offset order"):
        tracker.pass_over(4)
    tracker.pass_over(5)  # the fetch ended with a kept record: nothing to pass
    assert tracker.committable_offset == 5


@given(
    fetches=st.lists(
        st.lists(st.booleans(), min_size=1, max_size=12),  # per fetched record: kept?
        min_size=1,
        max_size=20,
    ),
    data=st.data(),
)
def test_filtered_offsets_never_hold_the_commit_nor_let_it_pass_a_kept_one(
    fetches: list[list[bool]], data: st.DataObject
) -> None:
    tracker = OffsetTracker()
    next_offset = 0
    undone: set[int] = set()
    for fetch in fetches:
        for kept in fetch:
            if kept:
                tracker.track(next_offset)
                undone.add(next_offset)
            next_offset += 1
        tracker.pass_over(next_offset - 1)
        for offset in data.draw(
            st.sets(st.sampled_from(sorted(undone))) if undone else st.just(set())
        ):
            tracker.mark_done(offset)
            undone.discard(offset)
        expected = min(undone) if undone else next_offset
        assert tracker.committable_offset == expected
