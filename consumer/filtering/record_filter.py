"""The filter stage: which fetched records reach the function (`FILTER_PATTERNS`).

A record is admitted when it matches any pattern. Patterns are matched against the record as
Lambda shows it to filters, built only as far as the patterns look:

- `value`: a JSON object or array is parsed, so patterns reach into its fields; any other
  UTF-8 value is plain text (a JSON string or number included, quotes and all); a value that
  is not UTF-8 is left out of the judgement (see filter_patterns.ValueRule); a tombstone has
  no value;
- `key`: the key as UTF-8 text (absent when null or not UTF-8);
- `headers`: an object of header name to UTF-8 text (null for a null value, a list when a
  name repeats; a value that is not UTF-8 is left out);
- `topic`, `partition`, `offset`, `timestamp` (epoch ms), `timestampType` (`CREATE_TIME` or
  `LOG_APPEND_TIME`), as in Lambda's event.

Each value is parsed at most once, whatever the number of patterns, and only when a pattern
names `value` (and the `value` payload format does not parse it again: `keep_parsed_json`);
nothing here encodes a payload, so a filtered record costs no encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from consumer.filtering.matching import ABSENT, UNREADABLE
from consumer.filtering.patterns import Pattern
from consumer.records import (
    NO_TIMESTAMP,
    NO_TIMESTAMP_TYPE,
    TIMESTAMP_TYPE_NAMES,
    CheckedJsonRecord,
    DecodedRecord,
    KafkaRecord,
    UndecodedRecord,
    unreadable_reason,
)

_parse_json = msgspec.json.Decoder().decode  # RFC 8259 and UTF-8, about 4x the stdlib's speed
_JSON_OPENERS = (b"{", b"[")
_WHITESPACE = b" \t\r\n"


def value_view(value: bytes | None) -> Any:
    """The record's value as patterns see it: parsed JSON, text, UNREADABLE or ABSENT."""
    if value is None:
        return ABSENT
    first = value[:1]
    if first and first in _WHITESPACE:
        first = value.lstrip(_WHITESPACE)[:1]
    if first in _JSON_OPENERS:  # only then can it be an object or an array
        try:
            return _parse_json(value)
        except msgspec.DecodeError:
            pass  # text that merely starts like JSON
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return UNREADABLE


def _text(data: bytes | None) -> Any:
    if data is None:
        return ABSENT
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return ABSENT


def _headers_view(headers: Sequence[tuple[str, bytes | None]]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for name, data in headers:
        text = None if data is None else _text(data)
        if text is ABSENT:
            continue
        if name in view:
            earlier = view[name]
            view[name] = [*earlier, text] if isinstance(earlier, list) else [earlier, text]
        else:
            view[name] = text
    return view


# How each field a pattern can name, but the value (value_view), is read from a record.
_METADATA: dict[str, Callable[[KafkaRecord], Any]] = {
    "topic": lambda record: record.topic,
    "partition": lambda record: record.partition,
    "offset": lambda record: record.offset,
    "timestamp": lambda record: NO_TIMESTAMP if record.timestamp is None else record.timestamp,
    "timestampType": lambda record: TIMESTAMP_TYPE_NAMES.get(
        record.timestamp_type, NO_TIMESTAMP_TYPE
    ),
    "key": lambda record: _text(record.key),
    "headers": lambda record: _headers_view(record.headers),
}


def _value(record: KafkaRecord) -> bytes | None:
    return record.value


def _decoded_value(record: KafkaRecord) -> bytes | None:
    if type(record) is DecodedRecord and record.value_schema is not None:
        return record.value_json
    return record.value


def _decoded_key(record: KafkaRecord) -> Any:
    if type(record) is DecodedRecord and record.key_schema is not None:
        return _text(record.key_json)
    return _text(record.key)


class RecordFilter:
    """Admits the records that match any of the patterns; the others are filtered out.

    With `keep_parsed_json`, an admitted record whose value was parsed as JSON comes back as
    a CheckedJsonRecord, so the `value` payload format does not parse it a second time.
    With `decoded` (a schema registry decodes records), a decoded key or value is matched as
    its decoded JSON, as Lambda matches it, whatever the function is sent.
    """

    def __init__(
        self, patterns: Sequence[Pattern], keep_parsed_json: bool = False, decoded: bool = False
    ) -> None:
        if not patterns:
            raise ValueError("a RecordFilter needs at least one pattern")
        self._patterns = tuple(pattern.matches for pattern in patterns)
        named = frozenset().union(*(pattern.names for pattern in patterns))
        readers = {**_METADATA, "key": _decoded_key} if decoded else _METADATA
        self._readers = tuple((name, read) for name, read in readers.items() if name in named)
        self._value_of = _decoded_value if decoded else _value
        self._names_value = "value" in named
        by_value = [pattern.value_matches for pattern in patterns]
        self._value_matchers = tuple(m for m in by_value if m is not None)
        self._judge = (
            self._by_value if len(self._value_matchers) == len(by_value) else self._by_view
        )
        self._keep_parsed_json = keep_parsed_json and self._names_value

    def admits(self, record: KafkaRecord) -> bool:
        value = value_view(self._value_of(record)) if self._names_value else ABSENT
        return self._judge(record, value)

    def admitted(self, records: Sequence[KafkaRecord]) -> list[KafkaRecord]:
        """The records to deliver, in their order. A record the filter cannot read (JSON
        nested deeper than the parser follows, say) is among them as an UndecodedRecord with
        the reason, so it is dead-lettered and every other record is judged as usual."""
        try:
            return self._admitted(records)
        except Exception:  # rare: judge each record alone, to find the one that cannot be read
            judged = (self._judged_alone(record) for record in records)
            return [record for record in judged if record is not None]

    def _admitted(self, records: Sequence[KafkaRecord]) -> list[KafkaRecord]:
        if not self._keep_parsed_json:
            admits = self.admits
            return [record for record in records if admits(record)]
        kept: list[KafkaRecord] = []
        for record in records:
            self._keep_checked(record, kept)
        return kept

    def _keep_checked(self, record: KafkaRecord, kept: list[KafkaRecord]) -> None:
        value = value_view(record.value)  # keep_parsed_json: never with decoded records
        if self._judge(record, value):
            parsed = type(value) is dict or type(value) is list
            kept.append(CheckedJsonRecord.of(record) if parsed else record)

    def _judged_alone(self, record: KafkaRecord) -> KafkaRecord | None:
        """The record if admitted, None if filtered out, an UndecodedRecord if unreadable."""
        try:
            kept: list[KafkaRecord] = []
            if self._keep_parsed_json:
                self._keep_checked(record, kept)
            elif self.admits(record):
                kept.append(record)
        except Exception as error:
            reason = f"the filter cannot read it: {unreadable_reason(error)}"
            return UndecodedRecord.of(record, reason)
        return kept[0] if kept else None

    def _by_view(self, record: KafkaRecord, value: Any) -> bool:
        view = {} if value is ABSENT else {"value": value}
        for name, read in self._readers:
            field = read(record)
            if field is not ABSENT:
                view[name] = field
        for matches in self._patterns:  # noqa: SIM110 - a loop: any() builds a generator
            if matches(view):
                return True
        return False

    def _by_value(self, record: KafkaRecord, value: Any) -> bool:
        # The common case, without building a view: every pattern names the value alone.
        for matches in self._value_matchers:  # noqa: SIM110 - as above
            if matches(value):
                return True
        return False
