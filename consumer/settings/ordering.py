"""Which records of one partition may overtake each other on their way to the function."""

from __future__ import annotations

from enum import StrEnum


class Ordering(StrEnum):
    """The ordering promise a lane keeps for its partition; `key` is the default.

    Members are named as the setting's values; `partition` shadows `str.partition` on members.
    """

    # Two records with the same non-null key in one partition are delivered in offset order
    # and are never in flight at once in different batches; records with a null key carry no
    # constraint. Different keys run concurrently.
    key = "key"

    # One batch in flight per partition, records in strict offset order.
    partition = "partition"  # type: ignore[assignment]  # shadows str.partition; unused

    # No constraint: up to the in-flight limit of batches at once, in any order of completion.
    none = "none"
