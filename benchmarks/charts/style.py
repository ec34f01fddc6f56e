"""How every chart looks and how it is written: the same results give the same SVG bytes.

No matplotlib import here: it is passed figures, and read only by the drawing modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.charts.series import Document

if TYPE_CHECKING:  # for the checker alone: nothing here imports matplotlib
    from matplotlib.typing import RcKeyType

# matplotlib salts the SVG's ids at random, stamps the date, and draws text as paths in the
# font it found: each fixed here, so drawing the same results again changes no byte.
RC: dict[RcKeyType, Any] = {
    "svg.hashsalt": "kafka-to-lambda",
    "svg.fonttype": "none",  # text kept as text: smaller, searchable, no font's outlines
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
}
METADATA = {"Date": None}

# One colour per contender in every chart: the bridge's family blue, Benthos orange.
_COLOURS = {
    "bridge": "#1f77b4",
    "bridge-legacy": "#6baed6",
    "bridge+answers": "#08306b",
    "bridge+uvloop": "#17becf",
    "benthos": "#ff7f0e",
    "benthos-defaults": "#fdae6b",
    "sequential": "#d62728",
    "fire-and-forget": "#8c564b",
    "client-floor": "#2ca02c",
}
_EARLIER_BRIDGE = "#7f7f7f"  # bridge@<commit>, run beside the bridge with --baseline
_OTHER = "#9467bd"


def colour_of(contender: str) -> str:
    if contender.startswith("bridge@"):
        return _EARLIER_BRIDGE
    return _COLOURS.get(contender, _OTHER)


def tick_text(value: float, _position: object = None) -> str:
    """An axis' number as the tables write it: 1,000 rather than 10³."""
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def source_line(document: Document, source_name: str) -> str:
    """Where the numbers come from, under every chart."""
    about = document.get("machine", {})
    cores = f", {about['cores']} cores" if about.get("cores") else ""
    return (
        f"{source_name}: commit {about.get('commit', '?')}, {str(about.get('date', '?'))[:10]}, "
        f"{about.get('cpu_model', '?')}{cores}"
    )


def save(figure: Any, path: Path) -> None:
    figure.savefig(path, format="svg", metadata=METADATA)
