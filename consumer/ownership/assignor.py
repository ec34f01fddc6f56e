"""The group's assignor: a partition stays with its member unless the balance needs it
elsewhere.

Each member's JoinGroup metadata carries the partitions it owns (`user_data`, JSON). The
leader's assignor gives every member a fair share (the counts differ by at most one), keeps
each member's own partitions within its share, and hands the rest out to the members with the
fewest. A membership change moves only the partitions the balance needs moved.

It speaks under the protocol name `roundrobin`, the name of aiokafka's default assignor that
earlier versions of the bridge use. aiokafka 0.14 offers a member's protocols one JoinGroup at
a time (its join loop sends the first alone), so a member cannot offer two names and let the
group pick; sharing one name is what lets old and new members be in one group during a rolling
deployment without InconsistentGroupProtocol. An old member leads with round-robin (it ignores
`user_data`); a new one leads stickily, counting an old member as owning nothing. Either way
the leases keep every key in one invocation at a time.

aiokafka's own StickyPartitionAssignor is not used: it keeps its state in class attributes
(shared by every consumer of a process) and needs a protocol name of its own.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from aiokafka.structs import TopicPartition

log = logging.getLogger("consumer.membership")

PROTOCOL_NAME = "roundrobin"
_FORMAT = "k2l-owned/1"
_MAX_USER_DATA_BYTES = 1024 * 1024  # another member's claim, read bounded


class StickyAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """One per consumer: `owned()` names the partitions this member holds now."""

    name = PROTOCOL_NAME
    version = 0

    def __init__(self, owned: Callable[[], Collection[TopicPartition]]) -> None:
        self._owned = owned

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(
            self.version, sorted(topics), encode_owned(self._owned())
        )

    def assign(
        self,
        cluster: ClusterMetadata,
        members: Mapping[str, ConsumerProtocolMemberMetadata],
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        subscribed = {member: set(metadata.subscription) for member, metadata in members.items()}
        partitions: list[TopicPartition] = []
        for topic in sorted(set().union(*subscribed.values())):
            numbers = cluster.partitions_for_topic(topic)
            if numbers is None:
                log.warning(
                    "no partition metadata for a subscribed topic",
                    extra={"fields": {"topic": topic}},
                )
                continue
            partitions.extend(TopicPartition(topic, number) for number in sorted(numbers))
        owned = {member: decode_owned(metadata.user_data) for member, metadata in members.items()}
        plan = sticky_plan(partitions, subscribed, owned)
        return {
            member: ConsumerProtocolMemberAssignment(
                self.version, _by_topic(plan.get(member, [])), b""
            )
            for member in members
        }

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        pass  # what this member owns is the bridge's to say, at the next JoinGroup


def sticky_plan(
    partitions: list[TopicPartition],
    subscribed: Mapping[str, Collection[str]],
    owned: Mapping[str, Collection[TopicPartition]],
) -> dict[str, list[TopicPartition]]:
    """Who gets which partition: balanced (counts differ by at most one among members of the
    same subscription), each member keeping as many of its `owned` partitions as its share
    allows. Deterministic: the same input gives the same plan."""
    members = sorted(subscribed)
    if not members:
        return {}
    total, count = len(partitions), len(members)
    existing = set(partitions)
    # A partition two members claim (one of them a zombie) goes to neither claim: it is
    # handed out as a free one.
    claimants: dict[TopicPartition, list[str]] = defaultdict(list)
    for member in members:
        for partition in owned.get(member, ()):
            if partition in existing and partition.topic in subscribed[member]:
                claimants[partition].append(member)
    claims: dict[str, list[TopicPartition]] = {member: [] for member in members}
    for partition, who in claimants.items():
        if len(who) == 1:
            claims[who[0]].append(partition)
    # The members keeping most get the shares one larger: fewer partitions move.
    base, larger = divmod(total, count)
    by_claims = sorted(members, key=lambda member: (-len(claims[member]), member))
    share = {member: base + (1 if rank < larger else 0) for rank, member in enumerate(by_claims)}
    plan: dict[str, list[TopicPartition]] = {}
    for member in members:
        plan[member] = sorted(claims[member])[: share[member]]
    taken = {partition for kept in plan.values() for partition in kept}
    for partition in partitions:
        if partition in taken:
            continue
        candidates = [m for m in members if partition.topic in subscribed[m]]
        if not candidates:
            continue
        under = [m for m in candidates if len(plan[m]) < share[m]] or candidates
        chosen = min(under, key=lambda member: (len(plan[member]), member))
        plan[chosen].append(partition)
    return plan


def encode_owned(partitions: Collection[TopicPartition]) -> bytes:
    topics: dict[str, list[int]] = defaultdict(list)
    for partition in partitions:
        topics[partition.topic].append(partition.partition)
    owned = {topic: sorted(numbers) for topic, numbers in topics.items()}
    body = {"format": _FORMAT, "owned": owned}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode_owned(user_data: bytes | None) -> list[TopicPartition]:
    """The partitions a member says it owns; none when its metadata is not ours (a member of
    an earlier version, or another client) or cannot be read."""
    if not user_data or len(user_data) > _MAX_USER_DATA_BYTES:
        return []
    try:
        body = json.loads(user_data)
    except (ValueError, RecursionError):
        return []
    if not isinstance(body, dict) or body.get("format") != _FORMAT:
        return []
    topics = body.get("owned")
    if not isinstance(topics, dict):
        return []
    return [
        TopicPartition(topic, number)
        for topic, numbers in topics.items()
        if isinstance(topic, str) and isinstance(numbers, list)
        for number in numbers
        if isinstance(number, int) and not isinstance(number, bool) and number >= 0
    ]


def _by_topic(partitions: Iterable[TopicPartition]) -> list[tuple[str, list[int]]]:
    topics: dict[str, list[int]] = defaultdict(list)
    for partition in partitions:
        topics[partition.topic].append(partition.partition)
    return sorted((topic, sorted(numbers)) for topic, numbers in topics.items())
