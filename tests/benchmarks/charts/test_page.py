"""docs/benchmarks.md shows every chart of the latest results, drawn from them."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.charts.images import CHARTS_DIR, charts_for
from benchmarks.results_files import latest_results, load_results

PAGE = Path(__file__).resolve().parents[3] / "docs" / "benchmarks.md"
_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*([^)\s]+)\s*\)")


def test_the_page_shows_every_chart_of_the_latest_results_drawn_from_them() -> None:
    latest = latest_results()
    shown = {(PAGE.parent / target).resolve() for target in _IMAGE.findall(PAGE.read_text())}
    for chart in charts_for(load_results(latest)):
        image = CHARTS_DIR / chart.file_name
        redraw = "run `make bench-charts` and commit docs/benchmarks/"
        assert image.is_file(), f"{image.name} is missing: {redraw}"
        # Each chart names the results file it was drawn from, under it.
        assert latest.name in image.read_text(), f"{image.name} is not of {latest.name}: {redraw}"
        assert image.resolve() in shown, f"docs/benchmarks.md shows no {image.name}"
