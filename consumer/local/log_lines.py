"""The bridge's log records as the local mode's own lines, for a person at a terminal.

Production writes each record as a JSON line for a log store (consumer/operations/logs.py).
Here the same records, through the same logger setup, become lines like the local mode's
others: `warning   <message> (<field> <value>; …)`. What a line holds is the record's
message, its fields and its exception's own line: the bridge keeps those to counts,
offsets, names and errors, never a record's contents, and the setup redacts secrets from
every line. Records the progress line and the summary already say are left out
(`SaidElsewhere`); everything else is shown, warnings and errors above all.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any

from consumer.pipeline.commits import METADATA_NOT_KEPT
from consumer.pipeline.delivery import DEAD_LETTERED

_LEFT_OUT_FIELDS = frozenset(
    {
        "key_hash",  # for matching lines in a log store; no person reads a key from it
        "counters",  # the summary's numbers
    }
)
_UNITS = {"_s": "s", "_ms": "ms", "_bytes": "bytes"}  # the names' suffixes, as units
_LISTED_ITEMS = 3  # a longer list shows its first items and how many more
_MAX_VALUE_CHARS = 200


class LocalLogFormatter(logging.Formatter):
    """One line per record, in the local mode's column layout."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname.lower():<10}{record.getMessage()}"
        fields = getattr(record, "fields", None)
        details = _details(fields) if isinstance(fields, Mapping) else ""
        if details:
            line += f" ({details})"
        if record.exc_info and record.exc_info[1] is not None:
            line += ": " + _exception_line(record.exc_info[1])
        return line


class SaidElsewhere:
    """A log filter: False for the records the local mode's own lines already say.

    - a record dead-lettered: the progress line counts it as it happens, the handler's
      error is shown once as it happens (`handler   raised …`), and the summary counts the
      dead letters and names their files, each holding its record's error;
    - brokers that keep no commit metadata, on the embedded broker: Tansu keeps none, and the
      local mode's page says what that changes.
    """

    def __init__(self, embedded_broker: bool) -> None:
        self._left_out = {("consumer.delivery", DEAD_LETTERED)}
        if embedded_broker:
            self._left_out.add(("consumer.bridge", METADATA_NOT_KEPT))

    def __call__(self, record: logging.LogRecord) -> bool:
        # A message may be any object, unhashable too; the bridge's are strings.
        return not isinstance(record.msg, str) or (record.name, record.msg) not in self._left_out


def _details(fields: Mapping[str, Any]) -> str:
    shown = [
        _field(name, value)
        for name, value in fields.items()
        if name not in _LEFT_OUT_FIELDS and value is not None
    ]
    return "; ".join(shown)


def _field(name: str, value: Any) -> str:
    """`error type PoisonRecordError`; a unit the name ends in follows the value:
    `outage_s` 12.5 is `outage 12.5 s`."""
    for suffix, unit in _UNITS.items():
        if name.endswith(suffix) and isinstance(value, int | float):
            return f"{name.removesuffix(suffix).replace('_', ' ')} {_value(value)} {unit}"
    return f"{name.replace('_', ' ')} {_value(value)}"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(_field(name, v) for name, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        items = [_value(item) for item in value]
        if not items:
            return "none"
        if len(items) > _LISTED_ITEMS + 1:
            more = len(items) - _LISTED_ITEMS
            return ", ".join(items[:_LISTED_ITEMS]) + f" and {more:,} more"
        return ", ".join(items)
    text = " ".join(str(value).split())  # one line, whatever the value held
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 1] + "…"
    return text


def _exception_line(error: BaseException) -> str:
    """`ValueError: bad`: the exception's own line (on one line), not its traceback."""
    return " ".join("".join(traceback.format_exception_only(error)).split())
