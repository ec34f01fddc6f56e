"""The lines the local mode prints when a run ends: what was delivered, dead-lettered,
seen twice, and how fast."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from consumer.failures.dead_letters import FileDeadLetters

_LISTED_DEAD_LETTERS = 3  # files named in the summary; the rest are counted
_RATE_AFTER_S = 0.5  # the summary gives a rate only when records were done over this long


@dataclass(frozen=True)
class AnswersProduced:
    """What went to RESPONSE_TOPIC and ERROR_TOPIC (None: that one is not set)."""

    response_topic: str | None
    answers: int  # records produced there and acknowledged
    unsplit: int  # answers whose per-record results could not be split
    error_topic: str | None
    errors: int


@dataclass(frozen=True)
class RunSummary:
    drained: bool  # False: stopped by a signal before every record was done
    wall_s: float  # from the bridge's start to its clean stop
    produced: int | None  # records this run produced; None when it produced none
    delivered: int  # records the function returned success for
    dead_lettered: int
    duplicates: int | None  # distinct records the handler took more than once; None: unknown
    function_errors: int
    retries: int
    throttles: int
    dead_letter_files: list[Path] = field(default_factory=list)
    filtered: int | None = None  # matched no FILTER_PATTERNS pattern; None: no filtering
    # From the first records fetched to the last one done: the rate is over this span, as the
    # progress line's is over its last seconds (start-up and idle time are no part of either).
    delivering_s: float = 0.0
    splits_failures: bool = True  # ON_FAILURE=dlq: a failing batch is split to find its records
    answers: AnswersProduced | None = None  # RESPONSE_TOPIC or ERROR_TOPIC set


def summary_lines(summary: RunSummary) -> list[str]:
    done = summary.delivered + summary.dead_lettered + (summary.filtered or 0)
    how = "drained" if summary.drained else "stopped"
    of = f" of {summary.produced:,} produced" if summary.produced else ""
    per_s = records_per_s(done, summary.delivering_s)
    rate = "" if per_s is None else f", {per_s:,.0f} records/s while delivering"
    files = summary.dead_letter_files
    if summary.duplicates is None:
        duplicates, duplicates_note = "unknown", "PAYLOAD_FORMAT=value: a payload names no record"
    else:
        duplicates = f"{summary.duplicates:,}"
        duplicates_note = "records the handler was given again after taking them"
    if not summary.function_errors:
        failed_note = ""
    elif summary.splits_failures:
        failed_note = "failed invocations: retried, then split to find the failing records"
    else:
        failed_note = "failed invocations: retried until the function takes them (stall)"
    lines = [
        f"{how} after {summary.wall_s:.1f} s: {counted(done, 'record')} done{of}{rate}",
        _row("delivered", f"{summary.delivered:,}", "the handler returned success"),
        _row("dead-lettered", f"{summary.dead_lettered:,}", _shown(files[0]) if files else ""),
        *(_row("", "", _shown(path)) for path in files[1:_LISTED_DEAD_LETTERS]),
    ]
    if len(files) > _LISTED_DEAD_LETTERS:
        lines.append(_row("", "", f"… and {len(files) - _LISTED_DEAD_LETTERS:,} more"))
    if summary.filtered is not None:
        lines.append(
            _row(
                "filtered",
                f"{summary.filtered:,}",
                "matched no FILTER_PATTERNS pattern: committed, never invoked",
            )
        )
    lines += _answer_rows(summary.answers)
    lines += [
        _row("duplicates", duplicates, duplicates_note),
        _row("function errors", f"{summary.function_errors:,}", failed_note),
        _row("retries", f"{summary.retries:,}", ""),
        _row("throttles", f"{summary.throttles:,}", ""),
    ]
    return lines


def _answer_rows(produced: AnswersProduced | None) -> list[str]:
    if produced is None:
        return []
    rows = []
    if produced.response_topic is not None:
        note = produced.response_topic
        if produced.unsplit:
            note += f" ({counted(produced.unsplit, 'answer')} not split: see the warnings)"
        rows.append(_row("answers", f"{produced.answers:,}", note))
    if produced.error_topic is not None:
        rows.append(_row("errors produced", f"{produced.errors:,}", produced.error_topic))
    return rows


def records_per_s(done: int, working_s: float) -> float | None:
    """The one rate the local mode shows, live and at the end: records done over the time
    from the first records fetched to the last done (Bridge.working_s). None over less
    than half a second, where it would be noise."""
    return done / working_s if working_s >= _RATE_AFTER_S else None


def counted(number: int, noun: str) -> str:
    """`1 record`, `2,000 records`."""
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def _row(name: str, value: str, note: str) -> str:
    return f"  {name:<16}{value:>8}   {note}".rstrip()


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when under it."""
    try:
        return os.fspath(path.relative_to(Path.cwd()))
    except ValueError:
        return os.fspath(path)


def dead_letter_files_of(sink: FileDeadLetters) -> list[Path]:
    """The dead-letter files `sink` wrote (its writer id is in their names), in key order:
    not those of another run in the same directory."""
    return sorted(sink.directory.absolute().glob(f"*/*/*-{sink.writer_id}.json"))
