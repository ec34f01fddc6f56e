"""What every table of the report is made of: a judged target, a number as the tables write
it, and rows aligned into Markdown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str
    met: bool | None  # None: not measured in this run
    evidence: str


def number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def aligned(rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table: the first row is the header, a `---` row follows it, columns padded
    to their widest cell."""
    rows = [tuple(rows[0]), tuple("---" for _ in rows[0]), *(tuple(r) for r in rows[1:])]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"
        for row in rows
    )
