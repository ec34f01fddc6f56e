"""From fetched records to decoded ones: the parts SCHEMA_DECODE names, read by their framing.

`decode_all(records)` turns a fetch's records into `DecodedRecord`s — or, when some name
schemas not resolved yet, says which (the bridge holds those records back until
`Decoders.resolve` has them, and `refs(records)` says what is still missing); a record becomes
a `DecodedRecord`, or an `UndecodedRecord` with the reason when a part cannot be decoded
(not in the registry's framing, a schema the registry does not know, bytes that do not fit
it). A null part (no key, a tombstone) has nothing to decode and stays null, as with Lambda.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from consumer.records import (
    DecodedRecord,
    KafkaRecord,
    SchemaMetadata,
    UndecodedRecord,
    unreadable_reason,
)
from consumer.schemas.decoders import Decoders
from consumer.schemas.model import UndecodableRecord
from consumer.settings.decoding import SchemaParts, SchemaRecordFormat

Ref = TypeVar("Ref", bound=Hashable)
Framing = Callable[[bytes], tuple[Ref, bytes]]  # bytes → (schema reference, body); or raises
JSON_DATA_FORMAT = "JSON"
# Parts decoded off the loop and not taken yet (their partition was revoked meanwhile): kept
# at most this many, the oldest let go (a part let go is decoded again if it comes back).
_MAX_DECODED_ASIDE = 1024


@dataclass(frozen=True)
class FormatDecoder:
    """A decoder with the name of its format, for the event's schema metadata."""

    data_format: str  # AVRO, PROTOBUF, JSON
    to_json: Callable[[bytes], bytes]
    # Bodies over this many bytes are decoded off the event loop (None: every body on it):
    # a decoder whose work grows with the body faster than the event loop may wait.
    inline_max_bytes: int | None = None


@dataclass(frozen=True)
class LargeBody(Generic[Ref]):
    """A part too large to decode on the event loop: `resolve` decodes it in a thread. Equal
    for the same part (its bytes' identity), so each is decoded once."""

    ref: Ref
    data_id: int  # id(data): the part, not its contents
    data: bytes = field(compare=False)  # the part as fetched

    @classmethod
    def of(cls, ref: Ref, data: bytes) -> LargeBody[Ref]:
        return cls(ref, id(data), data)


class RecordDecoding(Generic[Ref]):
    def __init__(
        self,
        decoders: Decoders[Ref],
        framing: Framing[Ref],
        parts: SchemaParts,
        output: SchemaRecordFormat,
    ) -> None:
        self.decoders = decoders
        self._framing = framing
        self._keys = parts.includes_key
        self._values = parts.includes_value
        self._as_json = output is SchemaRecordFormat.JSON
        # One metadata object per schema, not per record: the per-record path is hot.
        self._metadata: dict[Ref, SchemaMetadata] = {}
        # Parts decoded off the loop, until decode() takes them: keyed by the identity of the
        # part's bytes, which each entry holds (so no other bytes can take that identity).
        self._decoded_aside: dict[int, tuple[bytes, bytes | UndecodableRecord]] = {}

    def refs(self, records: Iterable[KafkaRecord]) -> set[Ref | LargeBody[Ref]]:
        """What must be resolved before these records decode: the schemas they name that are
        not resolved yet (bytes not in the framing name none: `decode` dead-letters them),
        and the parts too large to decode on the event loop that are not decoded yet."""
        named: set[Ref] = set()
        large: set[Ref | LargeBody[Ref]] = set()
        framing = self._framing
        for record in records:
            for data in self._parts(record):
                if data is None:
                    continue
                with contextlib.suppress(Exception):  # decode() says why
                    ref, body = framing(data)
                    named.add(ref)
                    bound = self._inline_max_bytes(ref)
                    over = bound is not None and len(body) > bound
                    aside = self._decoded_aside.get(id(data))
                    if over and (aside is None or aside[0] is not data):
                        large.add(LargeBody.of(ref, data))
        missing: set[Ref | LargeBody[Ref]] = set(self.decoders.missing(named))
        return missing | large

    async def resolve(self, needed: Iterable[Ref | LargeBody[Ref]]) -> None:
        """Resolves what `refs` named: fetches the schemas (retried until the registry
        answers), then decodes the large parts, each in a thread."""
        needed = list(needed)
        refs = {item for item in needed if not isinstance(item, LargeBody)}
        if refs:
            await self.decoders.resolve(refs)
        for item in needed:
            if isinstance(item, LargeBody):
                entry = self.decoders.get(item.ref)
                assert isinstance(entry, FormatDecoder), "named by refs() once resolved"
                body = self._framing(item.data)[1]
                decoded = await asyncio.to_thread(_decoded_or_why, entry.to_json, body)
                self._decoded_aside[id(item.data)] = (item.data, decoded)
                while len(self._decoded_aside) > _MAX_DECODED_ASIDE:  # a revoke left some
                    del self._decoded_aside[next(iter(self._decoded_aside))]

    def _inline_max_bytes(self, ref: Ref) -> int | None:
        """The largest body `ref`'s decoder takes on the event loop (None: any, or unknown)."""
        entry = self.decoders.get(ref)
        return entry.inline_max_bytes if isinstance(entry, FormatDecoder) else None

    def decode_all(
        self, records: Iterable[KafkaRecord]
    ) -> list[KafkaRecord] | set[Ref | LargeBody[Ref]]:
        """The records decoded, in order; or, when some name schemas not resolved yet, those
        schemas (and nothing is decoded: the caller holds the records, resolves, asks again).
        One pass, each part framed once: the per-record path of every fetch."""
        decoded: list[KafkaRecord] = []
        missing: set[Ref | LargeBody[Ref]] = set()
        for record in records:
            if not missing:
                try:
                    decoded.append(self.decode(record))
                    continue
                except _Unresolved as unresolved:
                    missing.add(cast(Ref, unresolved.ref))
            missing.update(self.refs([record]))
        return missing if missing else decoded

    def decode(self, record: KafkaRecord) -> KafkaRecord:
        """The record decoded, or undecodable with the reason; _Unresolved if a schema it
        names is not resolved yet."""
        try:
            key_json, key_schema = self._decode_part(record.key, self._keys)
        except UndecodableRecord as problem:
            return UndecodedRecord.of(record, f"key: {problem.reason}")
        except _Unresolved:
            raise
        except Exception as error:  # the trust boundary: bytes no decoder foresaw
            return UndecodedRecord.of(record, f"key: {unreadable_reason(error)}")
        try:
            value_json, value_schema = self._decode_part(record.value, self._values)
        except UndecodableRecord as problem:
            return UndecodedRecord.of(record, f"value: {problem.reason}")
        except _Unresolved:
            raise
        except Exception as error:
            return UndecodedRecord.of(record, f"value: {unreadable_reason(error)}")
        if key_schema is None and value_schema is None:
            return record  # nothing in it was framed: null parts only
        as_json = self._as_json
        return DecodedRecord(
            record.topic,
            record.partition,
            record.offset,
            record.timestamp,
            record.timestamp_type,
            key_json if as_json and key_schema is not None else record.key,
            value_json if as_json and value_schema is not None else record.value,
            record.headers,
            key_json,
            value_json,
            key_schema,
            value_schema,
            record,
        )

    def _parts(self, record: KafkaRecord) -> tuple[bytes | None, bytes | None]:
        return (record.key if self._keys else None, record.value if self._values else None)

    def _decode_part(
        self, data: bytes | None, wanted: bool
    ) -> tuple[bytes | None, SchemaMetadata | None]:
        if data is None or not wanted:
            return None, None
        ref, body = self._framing(data)
        entry = self.decoders.get(ref)
        if entry is None:
            raise _Unresolved(ref)
        if isinstance(entry, UndecodableRecord):
            raise entry
        assert isinstance(entry, FormatDecoder)
        if entry.inline_max_bytes is not None and len(body) > entry.inline_max_bytes:
            data_and_result = self._decoded_aside.pop(id(data), None)
            if data_and_result is None or data_and_result[0] is not data:
                raise _Unresolved(LargeBody.of(ref, data))
            result = data_and_result[1]
            if isinstance(result, UndecodableRecord):
                raise result
            json_text = result
        else:
            json_text = entry.to_json(body)
        metadata = self._metadata.get(ref)
        if metadata is None:
            # dataFormat says what the function gets: JSON once decoded (Powertools' JSON
            # deserializer refuses anything else), the registry's format for the bytes as
            # written.
            data_format = JSON_DATA_FORMAT if self._as_json else entry.data_format
            metadata = self._metadata[ref] = SchemaMetadata(data_format, str(ref))
        return json_text, metadata


def _decoded_or_why(to_json: Callable[[bytes], bytes], body: bytes) -> bytes | UndecodableRecord:
    try:
        return to_json(body)
    except UndecodableRecord as undecodable:
        return undecodable
    except Exception as error:  # the trust boundary, as in decode()
        return UndecodableRecord(unreadable_reason(error))


class _Unresolved(Exception):
    """A part names a schema the decoders do not have yet."""

    def __init__(self, ref: Hashable) -> None:
        super().__init__(ref)
        self.ref = ref
