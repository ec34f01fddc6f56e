"""S8's table (a row per membership change and contender) and its targets, judged on the
figures of benchmarks/churn_timeline.py. Pure: figures in, text and Targets out."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.churn_timeline import ChurnFigures, WindowFigures
from benchmarks.contenders import BENTHOS
from benchmarks.report_text import Target, aligned, number

TARGETS = {
    "S8 group stop s": 0.5,  # the longest time no invocation starts anywhere, at a change
    "S8 p99 near vs rest": 1.5,  # records produced just after a change against the others
}


def churn_table(figures: Sequence[ChurnFigures]) -> str:
    """One row per window (steady, then each change) of every contender."""
    header = (
        "contender",
        "change",
        "at s",
        "group stop s",
        "partition stop median s",
        "partition stop max s",
        "e2e p99 near ms",
        "in flight at change",
        "duplicates",
        "overlapping key pairs",
    )
    rows = [header]
    for run in figures:
        for window in (run.steady, *run.changes):
            rows.append(
                (
                    run.contender,
                    window.label,
                    number(window.at_s),
                    number(window.group_stop_s, 2),
                    number(window.partition_stop_median_s, 2),
                    number(window.partition_stop_max_s, 2),
                    _near(window),
                    _in_flight(window),
                    number(window.duplicates),
                    number(window.overlapping_pairs),
                )
            )
        rows.append(
            (
                run.contender,
                "whole run",
                "",
                "",
                "",
                "",
                f"{number(run.p99_near_ms)} (rest {number(run.p99_rest_ms)})",
                f"{run.produced:,} produced, {run.delivered:,} delivered, {run.lost:,} lost",
                number(run.duplicates),
                number(run.overlapping_pairs),
            )
        )
    return aligned(rows)


def _near(window: WindowFigures) -> str:
    if window.in_flight_records is None:
        return "—"
    return f"{number(window.p99_near_ms)} ({window.near_records:,})"


def _in_flight(window: WindowFigures) -> str:
    if window.in_flight_invocations is None or window.in_flight_records is None:
        return "—"
    return f"{window.in_flight_records:,} in {window.in_flight_invocations:,}"


def _find(figures: Sequence[ChurnFigures], contender: str) -> ChurnFigures | None:
    return next((f for f in figures if f.contender == contender), None)


def churn_targets(figures: Sequence[ChurnFigures]) -> list[Target]:
    """S8's targets for each bridge contender, with Benthos's figures beside them."""
    benthos = _find(figures, BENTHOS.name)
    judged: list[Target] = []
    for run in figures:
        if not run.contender.startswith("bridge"):
            continue
        judged.extend(_judged(run, benthos))
    return judged


def _judged(run: ChurnFigures, benthos: ChurnFigures | None) -> list[Target]:
    name, changes = run.contender, run.changes
    stop_limit = TARGETS["S8 group stop s"]
    ratio_limit = TARGETS["S8 p99 near vs rest"]

    def beside(text: str, other: str) -> str:
        return text if benthos is None else f"{text} (Benthos: {other})"

    def stops(of: ChurnFigures) -> str:
        return ", ".join(f"{c.group_stop_s:.2f}" for c in of.changes) + " s"

    worst_stop = max((c.group_stop_s for c in changes), default=None)
    steady = f"; steady {run.steady.group_stop_s:.2f} s"
    judged = [
        Target(
            f"S8 {name}: the group stops ≤ {stop_limit} s at every change",
            None if worst_stop is None else worst_stop <= stop_limit,
            beside(stops(run) + steady, stops(benthos) if benthos else ""),
        )
    ]
    ratios = [_ratio(c.p99_near_ms, run.p99_rest_ms) for c in changes]
    known = [r for r in ratios if r is not None]
    judged.append(
        Target(
            f"S8 {name}: end-to-end p99 near each change ≤ {ratio_limit}x the rest's",
            None if not known else max(known) <= ratio_limit,
            beside(_ratios(run, ratios), _ratios(benthos, None) if benthos else ""),
        )
    )
    over = [c for c in changes if c.in_flight_records is not None]
    judged.append(
        Target(
            f"S8 {name}: duplicates per change ≤ the records in flight at it",
            all(c.duplicates <= (c.in_flight_records or 0) for c in over),
            beside(_duplicates(run), _duplicates(benthos) if benthos else ""),
        )
    )
    judged.append(
        Target(
            f"S8 {name}: no two invocations of one key at once",
            run.overlapping_pairs == 0,
            beside(
                f"{run.overlapping_pairs:,} overlapping pairs",
                f"{benthos.overlapping_pairs:,}" if benthos else "",
            ),
        )
    )
    judged.append(
        Target(
            f"S8 {name}: nothing lost",
            run.lost == 0,
            f"{run.produced:,} produced, {run.delivered:,} delivered, {run.lost:,} lost",
        )
    )
    return judged


def _ratio(near_ms: float | None, rest_ms: float | None) -> float | None:
    if near_ms is None or not rest_ms:
        return None
    return near_ms / rest_ms


def _ratios(run: ChurnFigures, ratios: list[float | None] | None) -> str:
    if ratios is None:
        ratios = [_ratio(c.p99_near_ms, run.p99_rest_ms) for c in run.changes]
    each = ", ".join("—" if r is None else f"{r:.1f}x" for r in ratios)
    return f"{each} of the rest's {number(run.p99_rest_ms)} ms"


def _duplicates(run: ChurnFigures) -> str:
    return ", ".join(f"{c.duplicates:,} of {number(c.in_flight_records)}" for c in run.changes)
