"""From fetched records to decoded ones: the parts SCHEMA_DECODE names, read by their framing.

`decode_all(records)` turns a fetch's records into `DecodedRecord`s — or, when some name
schemas not resolved yet, says which (the bridge holds those records back until
`Decoders.resolve` has them, and `refs(records)` says what is still missing); a record becomes
a `DecodedRecord`, or an `UndecodedRecord` with the reason when a part cannot be decoded
(not in the registry's framing, a schema the registry does not know, bytes that do not fit
it). A null part (no key, a tombstone) has nothing to decode and stays null, as with Lambda.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class FormatDecoder:
    """A decoder with the name of its format, for the event's schema metadata."""

    data_format: str  # AVRO, PROTOBUF, JSON
    to_json: Callable[[bytes], bytes]


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

    def refs(self, records: Iterable[KafkaRecord]) -> set[Ref]:
        """The schemas these records name that are not resolved yet (bytes that are not in
        the framing name none: `decode` dead-letters them)."""
        named: set[Ref] = set()
        framing = self._framing
        for record in records:
            for data in self._parts(record):
                if data is not None:
                    with contextlib.suppress(Exception):  # decode() says why
                        named.add(framing(data)[0])
        return self.decoders.missing(named)

    def decode_all(self, records: Iterable[KafkaRecord]) -> list[KafkaRecord] | set[Ref]:
        """The records decoded, in order; or, when some name schemas not resolved yet, those
        schemas (and nothing is decoded: the caller holds the records, resolves, asks again).
        One pass, each part framed once: the per-record path of every fetch."""
        decoded: list[KafkaRecord] = []
        missing: set[Ref] = set()
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
        metadata = self._metadata.get(ref)
        if metadata is None:
            # dataFormat says what the function gets: JSON once decoded (Powertools' JSON
            # deserializer refuses anything else), the registry's format for the bytes as
            # written.
            data_format = JSON_DATA_FORMAT if self._as_json else entry.data_format
            metadata = self._metadata[ref] = SchemaMetadata(data_format, str(ref))
        return entry.to_json(body), metadata


class _Unresolved(Exception):
    """A part names a schema the decoders do not have yet."""

    def __init__(self, ref: Hashable) -> None:
        super().__init__(ref)
        self.ref = ref
