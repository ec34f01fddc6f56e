"""Per-partition offset bookkeeping: which offset is safe to commit."""

from __future__ import annotations

from collections import deque


class OffsetTracker:
    """Offsets of one partition, tracked as fetched and marked done as delivered or dead-lettered.

    A fetched record that is filtered out is never tracked: offsets between tracked ones are
    gaps the commit may pass, and `pass_over` moves the end past filtered records at the tail.

    Invariants:
    - tracked offsets strictly increase (gaps allowed: compaction, transaction markers,
      filtered records);
    - `_outstanding` holds tracked offsets in increasing order, and its head is never done:
      done offsets are dropped from the front as soon as everything before them is done;
    - `_undone` is exactly the tracked offsets not yet marked done;
    - `_last_tracked` is the highest offset tracked or passed over;
    - `committable_offset` is the lowest undone offset, or `_last_tracked` + 1 when none is
      undone, so it never passes an undone offset and never moves backwards.

    Each offset costs O(1) amortized: one append and one popleft on the deque, one set add
    and one set remove.
    """

    __slots__ = ("_last_tracked", "_outstanding", "_undone")

    def __init__(self) -> None:
        self._outstanding: deque[int] = deque()
        self._undone: set[int] = set()
        self._last_tracked: int | None = None

    def track(self, offset: int) -> None:
        """Records that `offset` was fetched; offsets must arrive in increasing order."""
        last = self._last_tracked
        if last is not None and offset <= last:
            raise ValueError(
                f"offset {offset} tracked after {last}: a partition's records must be "
                "tracked in increasing offset order, each once"
            )
        self._last_tracked = offset
        self._outstanding.append(offset)
        self._undone.add(offset)

    def pass_over(self, offset: int) -> None:
        """Records that every offset up to `offset` was fetched: those not tracked need no
        delivery (filtered out), so the commit may pass them once the tracked ones are done."""
        last = self._last_tracked
        if last is not None and offset < last:
            raise ValueError(
                f"offset {offset} passed over after {last}: a partition's records must be "
                "fetched in increasing offset order"
            )
        self._last_tracked = offset

    def mark_done(self, offset: int) -> None:
        """Records that `offset` was delivered or dead-lettered; any order is fine."""
        undone = self._undone
        try:
            undone.remove(offset)
        except KeyError:
            raise ValueError(
                f"offset {offset} marked done but it is not tracked or already done: "
                "each tracked offset is marked done exactly once"
            ) from None
        outstanding = self._outstanding
        while outstanding and outstanding[0] not in undone:
            outstanding.popleft()

    @property
    def committable_offset(self) -> int | None:
        """The offset to commit (the next to consume); None when nothing was ever tracked."""
        if self._outstanding:
            return self._outstanding[0]
        if self._last_tracked is None:
            return None
        return self._last_tracked + 1

    def done_above(self) -> list[int]:
        """The tracked offsets above the committable one that are done, in order: what a
        partition's next owner need not deliver again. O(outstanding)."""
        undone = self._undone
        return [offset for offset in self._outstanding if offset not in undone]

    @property
    def last_tracked(self) -> int | None:
        return self._last_tracked

    @property
    def undone_count(self) -> int:
        """How many tracked offsets are not done yet."""
        return len(self._undone)
