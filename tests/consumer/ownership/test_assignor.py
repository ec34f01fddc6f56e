"""The sticky assignor: balanced, and moving only what the balance needs."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata
from aiokafka.structs import TopicPartition

from consumer.ownership.assignor import (
    PROTOCOL_NAME,
    StickyAssignor,
    decode_owned,
    encode_owned,
    sticky_plan,
)

TOPIC = "t"


def partitions(count: int, topic: str = TOPIC) -> list[TopicPartition]:
    return [TopicPartition(topic, number) for number in range(count)]


def rebalance(
    plan: dict[str, list[TopicPartition]], members: list[str], count: int
) -> dict[str, list[TopicPartition]]:
    """The next plan, each member claiming what it has in `plan`."""
    return sticky_plan(
        partitions(count), {m: [TOPIC] for m in members}, {m: plan.get(m, []) for m in members}
    )


def moved(before: dict[str, list[TopicPartition]], after: dict[str, list[TopicPartition]]) -> int:
    owner = {p: m for m, ps in before.items() for p in ps}
    return sum(1 for m, ps in after.items() for p in ps if owner.get(p, m) != m)


def assert_balanced(plan: dict[str, list[TopicPartition]], count: int) -> None:
    sizes = [len(ps) for ps in plan.values()]
    assert max(sizes) - min(sizes) <= 1, plan
    every = [p for ps in plan.values() for p in ps]
    assert sorted(every) == partitions(count)  # each partition once


def test_scaling_1_2_3_2_1_moves_only_what_the_balance_needs() -> None:
    count = 12
    plan = rebalance({}, ["a"], count)
    moves = []
    for members in (["a", "b"], ["a", "b", "c"], ["a", "b"], ["a"]):
        after = rebalance(plan, members, count)
        assert_balanced(after, count)
        moves.append(moved(plan, after))
        plan = after
    # 12 partitions: a second member takes 6, a third 4 (2 from each), and back.
    assert moves == [6, 4, 4, 6]


@pytest.mark.parametrize("seed", range(30))
def test_any_sequence_of_joins_and_leaves_stays_balanced_and_sticky(seed: int) -> None:
    rng = random.Random(seed)
    count = rng.randrange(1, 40)
    members = ["m0"]
    plan = rebalance({}, members, count)
    for step in range(12):
        if len(members) > 1 and rng.random() < 0.5:
            members.remove(rng.choice(members))
        else:
            members.append(f"m{step + 1}")
        after = rebalance(plan, members, count)
        assert_balanced(after, count)
        # No partition moves between two members that both stay, beyond what balance needs:
        # a member keeps every partition it had, up to its share.
        for member in members:
            kept = set(plan.get(member, [])) & set(after[member])
            assert len(kept) == min(len(plan.get(member, [])), len(after[member]))
        plan = after


def test_a_partition_two_members_claim_goes_to_one_only() -> None:
    both = [TopicPartition(TOPIC, 0)]
    plan = sticky_plan(partitions(2), {"a": [TOPIC], "b": [TOPIC]}, {"a": both, "b": both})
    assert_balanced(plan, 2)


def test_claims_of_partitions_that_no_longer_exist_are_ignored() -> None:
    gone = [TopicPartition(TOPIC, 9), TopicPartition("other", 0)]
    plan = sticky_plan(partitions(2), {"a": [TOPIC]}, {"a": gone})
    assert plan == {"a": partitions(2)}


def test_members_subscribed_to_other_topics_get_only_theirs() -> None:
    every = partitions(2, "x") + partitions(2, "y")
    plan = sticky_plan(every, {"a": ["x"], "b": ["x", "y"]}, {})
    assert all(p.topic == "x" for p in plan["a"])
    assert sorted(plan["a"] + plan["b"]) == sorted(every)


class Cluster:
    def __init__(self, counts: dict[str, int]) -> None:
        self._counts = counts

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        count = self._counts.get(topic)
        return None if count is None else set(range(count))


def test_it_speaks_the_protocol_of_earlier_members_and_reads_them_as_owning_nothing() -> None:
    """A rolling deployment: an earlier member's metadata is round-robin's (no user data)."""
    assert StickyAssignor.name == RoundRobinPartitionAssignor.name == PROTOCOL_NAME
    mine = [TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1), TopicPartition(TOPIC, 2)]
    new = StickyAssignor(lambda: mine)
    members = {
        "new": new.metadata([TOPIC]),
        "old": RoundRobinPartitionAssignor.metadata([TOPIC]),
    }
    assignment = new.assign(Cluster({TOPIC: 4}), members)

    got = {
        m: [TopicPartition(t, p) for t, ps in a.assignment for p in ps]
        for m, a in assignment.items()
    }
    assert len(got["new"]) == len(got["old"]) == 2
    assert set(got["new"]) < set(mine)  # it keeps two of its three


def test_an_earlier_leader_assigns_round_robin_from_the_new_members_metadata() -> None:
    new = StickyAssignor(lambda: partitions(3))
    members = {"a": new.metadata([TOPIC]), "b": new.metadata([TOPIC])}
    assignment = RoundRobinPartitionAssignor.assign(Cluster({TOPIC: 4}), members)
    assert Counter(len(ps) for a in assignment.values() for _, ps in a.assignment) == Counter(
        {2: 2}
    )


@pytest.mark.parametrize(
    "user_data",
    [
        b"",
        b"not json",
        b"[" * 100_000,
        b'{"format": "k2l-owned/1", "owned": {"t": [0, -1, true, "x", 2.5]}}',
        b'{"format": "someone else", "owned": {"t": [0]}}',
        b'{"format": "k2l-owned/1", "owned": ["t"]}',
        b"x" * (2 * 1024 * 1024),
    ],
)
def test_another_members_claim_is_read_bounded(user_data: bytes) -> None:
    claimed = decode_owned(user_data)
    assert all(p.partition >= 0 and isinstance(p.partition, int) for p in claimed)
    assert len(claimed) <= 1


def test_a_claim_reads_back() -> None:
    owned = [TopicPartition("a", 3), TopicPartition("b", 0), TopicPartition("a", 1)]
    assert sorted(decode_owned(encode_owned(owned))) == sorted(owned)


def test_metadata_is_round_robins_shape() -> None:
    metadata = StickyAssignor(lambda: []).metadata(["b", "a"])
    assert isinstance(metadata, ConsumerProtocolMemberMetadata)
    assert metadata.subscription == ["a", "b"]
