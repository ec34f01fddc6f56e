"""The lines the local mode prints when a run ends: what was delivered, dead-lettered,
seen twice, and how fast."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from consumer.dead_letters import FileDeadLetters

_LISTED_DEAD_LETTERS = 3  # files named in the summary; the rest are counted


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


def summary_lines(summary: RunSummary) -> list[str]:
    done = summary.delivered + summary.dead_lettered + (summary.filtered or 0)
    rate = done / summary.wall_s if summary.wall_s > 0 else 0.0
    how = "drained" if summary.drained else "stopped"
    of = f" of {summary.produced:,} produced" if summary.produced else ""
    files = summary.dead_letter_files
    duplicates = "unknown" if summary.duplicates is None else f"{summary.duplicates:,}"
    lines = [
        f"{how} after {summary.wall_s:.1f} s: {done:,} records done{of}, {rate:,.0f} records/s",
        _row("delivered", f"{summary.delivered:,}", "the handler returned success"),
        _row("dead-lettered", f"{summary.dead_lettered:,}", _shown(files[0]) if files else ""),
        *(_row("", "", _shown(path)) for path in files[1:_LISTED_DEAD_LETTERS]),
    ]
    if len(files) > _LISTED_DEAD_LETTERS:
        lines.append(_row("", "", f"… and {len(files) - _LISTED_DEAD_LETTERS:,} more"))
    failed_note = "failed invocations: retried, then split to find the failing records"
    if summary.filtered is not None:
        lines.append(
            _row(
                "filtered",
                f"{summary.filtered:,}",
                "matched no FILTER_PATTERNS pattern: committed, never invoked",
            )
        )
    lines += [
        _row("duplicates", duplicates, "records the handler was given again after taking them"),
        _row(
            "function errors",
            f"{summary.function_errors:,}",
            failed_note if summary.function_errors else "",
        ),
        _row("retries", f"{summary.retries:,}", ""),
        _row("throttles", f"{summary.throttles:,}", ""),
    ]
    return lines


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
