"""A latency scenario's end-to-end latency by percentile, a curve per contender; for S8 also
each contender's p99 just after each membership change.

The percentile axis stretches the tail, where contenders part: each tick one more nine (p90,
p99, p99.9), the maximum last.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from benchmarks.charts.series import ChangeLatency, Curve
from benchmarks.charts.style import colour_of, tick_text

MAX_X = 3.5  # where the maximum sits: half a nine past p99.9
LOG_FROM_RATIO = 20.0  # the largest latency over the smallest median: a log scale from here
_KEPT = {50.0: "p50", 99.0: "p99", 100.0: "max"}  # what results files kept before
_TICKS = ((0.0, "min"), (50.0, "p50"), (90.0, "p90"), (99.0, "p99"), (99.9, "p99.9"))
_GREY = "#555555"


def percentile_x(q: float) -> float:
    """The axis position of the q-th percentile: its count of nines (p90 → 1, p99 → 2)."""
    if q >= 100:
        return MAX_X
    return -math.log10(1 - q / 100)


def uses_log_scale(curves: list[Curve]) -> bool:
    """Log where a tail reaches 20 times a median: on a linear scale the fast contenders'
    curves would lie flat along the bottom. Not for a fast minimum alone (S8's few records
    that come just before an invocation starts)."""
    medians = [ms for curve in curves for q, ms in curve.points if q == 50 and ms > 0]
    largest = max((ms for curve in curves for _, ms in curve.points), default=0.0)
    return bool(medians) and largest / min(medians) >= LOG_FROM_RATIO


def latency_figure(
    name: str,
    scenario: Mapping[str, Any],
    curves: list[Curve],
    changes: list[ChangeLatency],
    source: str,
) -> Figure:
    figure = Figure(figsize=(12 if changes else 7.5, 4.6), layout="constrained")
    if changes:
        by_percentile, near_changes = figure.subplots(1, 2, width_ratios=(1.1, 1))
        _draw_changes(near_changes, changes)
    else:
        by_percentile = figure.subplots()
    _draw_curves(by_percentile, scenario, curves)
    kind, _, details = str(scenario.get("title", "")).partition(": ")
    figure.suptitle(
        f"{name} {kind}: end-to-end latency by percentile\n{details}",
        fontsize=11,
        x=0.01,
        ha="left",
    )
    figure.supxlabel(source, fontsize=7, color=_GREY, x=0.99, ha="right")
    return figure


def _draw_curves(axes: Axes, scenario: Mapping[str, Any], curves: list[Curve]) -> None:
    for curve in curves:
        xs = [percentile_x(q) for q, _ in curve.points]
        ys = [ms for _, ms in curve.points]
        colour = colour_of(curve.contender)
        if curve.complete:
            axes.plot(xs, ys, marker="o", markersize=3, color=colour, label=curve.contender)
        else:  # an older results file: a few percentiles are all there is
            kept = ", ".join(_KEPT.get(q, f"p{q:g}") for q, _ in curve.points)
            label = f"{curve.contender} ({kept} only)"
            axes.plot(xs, ys, marker="D", markersize=4, linestyle=":", color=colour, label=label)
    logarithmic = uses_log_scale(curves)
    if logarithmic:
        axes.set_yscale("log")
        axes.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        axes.yaxis.set_major_formatter(FuncFormatter(tick_text))
        axes.yaxis.set_minor_formatter(NullFormatter())
    else:
        axes.set_ylim(bottom=0)
    scale = " (log scale)" if logarithmic else ""
    if scenario.get("membership") is None:
        latency_ms = float(scenario.get("latency_s", 0)) * 1000
        if latency_ms:
            axes.axhline(latency_ms, color=_GREY, linestyle="--", linewidth=0.8)
            axes.annotate(
                f"L = {latency_ms:g} ms, the function's own time",
                (MAX_X, latency_ms),
                xytext=(0, 2),
                textcoords="offset points",
                ha="right",
                fontsize=7,
                color=_GREY,
            )
        axes.set_ylabel(f"ms, produced → received by the function{scale}")
    else:
        axes.set_ylabel(f"ms, produced → its invocation starts{scale}")
    ticks = [*_TICKS, (100.0, "max")]
    axes.set_xticks([percentile_x(q) for q, _ in ticks], [label for _, label in ticks])
    axes.set_xlim(-0.05, MAX_X + 0.1)
    axes.set_xlabel("percentile (each tick one more nine)")
    axes.grid(axis="y", linewidth=0.3)
    axes.legend(loc="upper left")
    if any(not c.complete for c in curves):
        axes.set_title(
            "dotted: this results file kept no distribution, only these percentiles", loc="left"
        )


def _draw_changes(axes: Axes, changes: list[ChangeLatency]) -> None:
    labels = changes[0].changes
    width = 0.8 / len(changes)
    for index, run in enumerate(changes):
        colour = colour_of(run.contender)
        xs = [i - 0.4 + width * (index + 0.5) for i in range(len(run.changes))]
        heights = [ms if ms is not None else 0.0 for ms in run.p99_near_ms]
        axes.bar(xs, heights, width=width, color=colour, label=run.contender)
        if run.p99_rest_ms is not None:
            axes.axhline(run.p99_rest_ms, color=colour, linestyle="--", linewidth=1)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_ylabel("e2e p99 ms")
    axes.grid(axis="y", linewidth=0.3)
    highest = max(
        (ms for run in changes for ms in (*run.p99_near_ms, run.p99_rest_ms) if ms is not None),
        default=1.0,
    )
    axes.set_ylim(0, highest * 1.2)  # the legend's row above the bars and lines
    axes.legend(loc="upper left", ncols=len(changes))
    near_s = changes[0].near_s
    axes.set_title(
        f"p99 of the records produced ≤ {near_s:g} s after each change;\n"
        "dashed: of those produced near no change",
        loc="left",
    )
