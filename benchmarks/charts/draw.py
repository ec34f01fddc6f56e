"""Draws every chart of a results document into a folder, as SVG."""

from __future__ import annotations

from pathlib import Path

from benchmarks.charts.images import charts_for
from benchmarks.charts.series import Document
from benchmarks.charts.style import RC, save, source_line


class ChartsUnavailable(RuntimeError):
    """matplotlib is not installed; the message says how to install it."""


def draw_charts(document: Document, source_name: str, out_dir: Path) -> list[Path]:
    """Every chart of `charts_for(document)`, written to `out_dir`; the paths written.
    `source_name` names the results file under each chart."""
    try:  # here, not at the top: only drawing needs the bench dependency group
        import matplotlib

        from benchmarks.charts.figures import figure_of
    except ImportError as missing:
        raise ChartsUnavailable(
            f"matplotlib is missing ({missing}): run `make bench-charts`, which installs "
            "requirements/bench.txt into .venv and draws them, or install it yourself: "
            ".venv/bin/pip install --no-deps -r requirements/bench.txt"
        ) from missing
    source = source_line(document, source_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with matplotlib.rc_context(RC):
        for chart in charts_for(document):
            path = out_dir / chart.file_name
            save(figure_of(document, chart, source), path)
            written.append(path)
    return written
