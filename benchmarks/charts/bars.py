"""Records/s or CPU-µs per record of each contender: a panel of bars per scenario.

Each panel has its own scale, logarithmic where its contenders differ by 100x or more (the
sequential baseline beside the bridge), with every value written at its bar.
"""

from __future__ import annotations

import math
import textwrap

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from benchmarks.charts.series import Metric, Panel
from benchmarks.charts.style import colour_of, tick_text

LOG_FROM_RATIO = 100.0  # a panel's largest value over its smallest: log scale from here
_TITLES = {
    Metric.RECORDS_PER_S: "Records/s per contender (more is better)",
    Metric.CPU_US_PER_RECORD: "CPU-µs per record in the contender's process (less is better)",
}
_COLUMNS = 2
_INCH_PER_BAR = 0.24
_INCH_PER_PANEL = 0.75  # its title and axis


def value_text(metric: Metric, value: float) -> str:
    if metric is Metric.CPU_US_PER_RECORD:
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def metric_figure(panels: list[Panel], metric: Metric, source: str) -> Figure:
    columns = min(_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    bars_per_row = [
        max(len(p.bars) for p in panels[row * columns : (row + 1) * columns]) for row in range(rows)
    ]
    height_in = sum(b * _INCH_PER_BAR + _INCH_PER_PANEL for b in bars_per_row) + 0.8
    figure = Figure(figsize=(11, height_in), layout="constrained")
    grid = figure.add_gridspec(
        rows, columns, height_ratios=[b * _INCH_PER_BAR + _INCH_PER_PANEL for b in bars_per_row]
    )
    for index, panel in enumerate(panels):
        _draw_panel(figure.add_subplot(grid[index // columns, index % columns]), panel, metric)
    figure.suptitle(_TITLES[metric], fontsize=11, x=0.01, ha="left")
    figure.supxlabel(source, fontsize=7, color="#555555", x=0.99, ha="right")
    return figure


def _draw_panel(axes: Axes, panel: Panel, metric: Metric) -> None:
    values = [bar.value for bar in panel.bars]
    positive = [v for v in values if v > 0]
    logarithmic = bool(positive) and max(positive) / min(positive) >= LOG_FROM_RATIO
    rows = range(len(panel.bars))
    colours = [colour_of(bar.contender) for bar in panel.bars]
    if logarithmic:
        # Bars start a decade boundary below the smallest value, not at 0 (no 0 on a log axis).
        start = 10 ** math.floor(math.log10(min(positive)))
        axes.set_xscale("log")
        axes.barh(rows, [max(v - start, 0) for v in values], left=start, color=colours)
        axes.set_xlim(start, max(positive) * 12)  # room for the last label
    else:
        start = 0.0
        axes.barh(rows, values, color=colours)
        axes.set_xlim(0, max(values, default=0) * 1.3 or 1)
    for row, value in zip(rows, values, strict=True):
        axes.text(max(value, start), row, f" {value_text(metric, value)}", va="center", fontsize=8)
    axes.set_yticks(list(rows), [bar.contender for bar in panel.bars])
    axes.invert_yaxis()  # the first contender on top
    axes.tick_params(axis="x", labelsize=7)
    axes.xaxis.set_major_formatter(FuncFormatter(tick_text))
    axes.xaxis.set_minor_formatter(NullFormatter())
    kind, _, details = panel.title.partition(": ")
    scale = " (log scale)" if logarithmic else ""
    axes.set_title(
        f"{panel.scenario} {kind}{scale}\n" + textwrap.shorten(details, 64, placeholder="…"),
        loc="left",
    )
