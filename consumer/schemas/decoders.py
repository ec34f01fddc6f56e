"""Decoders by schema reference: each schema fetched once, compiled once, kept while used.

`Decoders.get(ref)` is the per-record lookup (a dict hit); `await Decoders.resolve(refs)`
fetches and compiles the references not yet known, concurrently, and returns once each has
a decoder or a permanent reason it has none.

Invariants:
- at most one fetch per reference is under way, however many partitions wait on it (a
  single flight: later callers await the first one's task);
- an entry is either a `RecordDecoder` or the `UndecodableRecord` that says why there is
  none (a schema the registry does not know, one that cannot be compiled): a permanent
  answer is kept like a decoder, so the next record naming it fails at once;
- a transient failure (`RegistryUnavailable`) is never kept: `resolve` retries it with the
  bridge's backoff until the registry answers (or the caller is cancelled: a revoke, a stop);
- at most `max_entries` entries are kept; the least recently used goes first.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, TypeVar

from consumer.schemas.model import (
    RecordDecoder,
    RegisteredSchema,
    RegistryUnavailable,
    UndecodableRecord,
    UnusableSchema,
)
from consumer.settings.backoff import Backoff

log = logging.getLogger("consumer.schemas")

Ref = TypeVar("Ref", bound=Hashable)  # a Confluent schema id (int), a Glue version UUID
Entry = RecordDecoder | UndecodableRecord

DEFAULT_MAX_ENTRIES = 1000  # schemas, not records: a topic rarely has more than a few dozen


class Decoders(Generic[Ref]):
    def __init__(
        self,
        fetch: Callable[[Ref], Awaitable[RegisteredSchema]],
        build: Callable[[RegisteredSchema], RecordDecoder],
        backoff: Backoff,
        registry: str,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self._fetch = fetch
        self._build = build
        self._backoff = backoff
        self._registry = registry  # for the log: the URL or ARN, never credentials
        self._max_entries = max_entries
        self._entries: OrderedDict[Ref, Entry] = OrderedDict()
        self._fetching: dict[Ref, asyncio.Task[None]] = {}
        self.fetches = 0  # registry lookups made, retries included
        self.retries = 0  # lookups that failed transiently and were tried again

    def get(self, ref: Ref) -> Entry | None:
        """The decoder of `ref` (or why there is none); None: not resolved yet."""
        entry = self._entries.get(ref)
        if entry is not None:
            self._entries.move_to_end(ref)
        return entry

    def missing(self, refs: Iterable[Ref]) -> set[Ref]:
        return {ref for ref in refs if ref not in self._entries}

    async def resolve(self, refs: Iterable[Ref]) -> None:
        """Returns once every one of `refs` has an entry."""
        waits = []
        for ref in self.missing(refs):
            task = self._fetching.get(ref)
            if task is None:
                task = asyncio.create_task(self._resolve_one(ref), name=f"schema {ref}")
                self._fetching[ref] = task
                task.add_done_callback(functools.partial(self._fetched, ref))
            waits.append(task)
        if waits:
            # shield: one waiter cancelled (its partition revoked) must not cancel the fetch
            # that other partitions wait on too.
            await asyncio.gather(*(asyncio.shield(task) for task in waits))

    def _fetched(self, ref: Ref, _: asyncio.Task[None]) -> None:
        self._fetching.pop(ref, None)

    async def _resolve_one(self, ref: Ref) -> None:
        failures = 0
        while True:
            self.fetches += 1
            try:
                entry: Entry = self._build(await self._fetch(ref))
            except RegistryUnavailable as transient:
                failures += 1
                self.retries += 1
                delay_s = self._backoff.delay_s(failures)
                log.warning(
                    "schema registry unavailable; records wait, nothing is committed past them",
                    extra={
                        "fields": {
                            "registry": self._registry,
                            "schema": str(ref),
                            "error": str(transient),
                            "failures": failures,
                            "retry_in_s": round(delay_s, 2),
                        }
                    },
                )
                await asyncio.sleep(delay_s)
                continue
            except UndecodableRecord as permanent:
                entry = permanent
            except Exception as error:  # a schema no parser foresaw: unusable, never a hang
                entry = UnusableSchema(_unusable_reason(error))
            if isinstance(entry, UndecodableRecord):
                log.error(
                    "schema unusable; records naming it are dead-lettered",
                    extra={
                        "fields": {
                            "registry": self._registry,
                            "schema": str(ref),
                            "reason": entry.reason,
                        }
                    },
                )
            self._keep(ref, entry)
            return

    def _keep(self, ref: Ref, entry: Entry) -> None:
        self._entries[ref] = entry
        self._entries.move_to_end(ref)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


def _unusable_reason(error: Exception) -> str:
    """Why a schema could not be fetched whole or compiled, when its parser did not say: the
    kind of failure, never the schema's text."""
    if isinstance(error, RecursionError):
        return "the schema nests too deeply to compile"
    return f"the schema cannot be compiled ({type(error).__name__})"
