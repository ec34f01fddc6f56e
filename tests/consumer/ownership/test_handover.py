"""The handover in a partition's committed metadata: written compactly, read bounded."""

from __future__ import annotations

import base64
import random
import zlib

import pytest

from consumer.ownership.handover import BROKER_METADATA_LIMIT, Handover, decode


@pytest.mark.parametrize("seed", range(20))
def test_a_handover_reads_back_as_written(seed: int) -> None:
    rng = random.Random(seed)
    committed = rng.randrange(0, 10**12)
    done = frozenset(committed + 1 + rng.randrange(0, 5000) for _ in range(rng.randrange(0, 400)))
    lease = rng.choice([None, rng.randrange(10**12, 10**13)])
    written = Handover(lease, done).encode(committed)

    assert len(written.encode()) <= BROKER_METADATA_LIMIT
    assert decode(written, committed) == Handover(lease, done)


def test_long_runs_of_done_offsets_take_a_few_bytes() -> None:
    done = frozenset(range(1001, 101_000)) | frozenset(range(101_001, 200_000))
    written = Handover(1_800_000_000_000, done).encode(1000)

    assert len(written) < 80
    assert decode(written, 1000).done_above == done


def test_done_offsets_that_do_not_fit_are_left_out_and_the_lease_kept() -> None:
    rng = random.Random(7)
    done = frozenset(rng.sample(range(1, 400_000), 20_000))  # no pattern zlib could use
    written = Handover(1_800_000_000_000, done).encode(0)

    assert written == "k2l/1 lease=1800000000000"
    assert decode(written, 0) == Handover(1_800_000_000_000)


def test_offsets_at_or_below_the_committed_one_are_not_written() -> None:
    assert decode(Handover(None, frozenset({3, 5, 9})).encode(5), 5).done_above == {9}


@pytest.mark.parametrize(
    "metadata",
    ["", "some other client's note", "k2l/1", "k2l/1 lease=", "k2l/1 lease=-5", "k2l/1 lease=9e9"],
)
def test_metadata_with_no_lease_in_it_means_no_lease(metadata: str) -> None:
    assert decode(metadata, 10) == Handover()


def test_a_later_version_is_read_for_the_keys_this_one_knows() -> None:
    later = "k2l/2 lease=1800000000000 owner=abc future=1"
    assert decode(later, 0).lease_until_ms == 1_800_000_000_000


@pytest.mark.parametrize("seed", range(200))
def test_hostile_done_offsets_are_refused_not_trusted(seed: int) -> None:
    """Random bytes, truncated and bomb-like payloads: at worst no done offsets (the records
    are delivered again), never an exception or a huge set."""
    rng = random.Random(seed)
    kind = seed % 4
    if kind == 0:
        raw = rng.randbytes(rng.randrange(0, 300))
    elif kind == 1:  # a zlib bomb: megabytes of runs of one offset each
        raw = zlib.compress(b"\x01\x01" * 2_000_000)
    elif kind == 2:  # varints that never end
        raw = zlib.compress(b"\xff" * rng.randrange(1, 100))
    else:  # a run of 2**60 offsets
        raw = zlib.compress(b"\x01" + b"\xff" * 8 + b"\x0f")
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    handover = decode(f"k2l/1 lease=1800000000000 done={text}", 100)

    assert handover.lease_until_ms == 1_800_000_000_000
    assert len(handover.done_above) <= 1_000_000
    assert all(offset > 100 for offset in handover.done_above)
