"""The benchmarks' charts for docs/benchmarks.md, drawn from a results file as SVG.

`charts_for` names the charts a results document makes without drawing them (the tests use
it, and have no matplotlib); `draw_charts` draws them, importing matplotlib only then.
"""

from benchmarks.charts.draw import ChartsUnavailable, draw_charts
from benchmarks.charts.images import CHARTS_DIR, Chart, Kind, charts_for

__all__ = ["CHARTS_DIR", "Chart", "ChartsUnavailable", "Kind", "charts_for", "draw_charts"]
