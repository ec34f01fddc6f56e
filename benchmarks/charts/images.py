"""Which charts a results document makes, and the file each is drawn into.

Known without drawing, and without matplotlib (the tests have none): the tests check that
docs/benchmarks.md shows every chart the latest results make.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from benchmarks.charts.series import Document, Metric, latency_scenarios, metric_panels

CHARTS_DIR = Path(__file__).resolve().parents[2] / "docs" / "benchmarks"


class Kind(Enum):
    RECORDS_PER_S = "records/s per contender per scenario"
    CPU_US_PER_RECORD = "CPU-µs per record per contender per scenario"
    LATENCY = "a latency scenario's distribution per contender"


@dataclass(frozen=True)
class Chart:
    file_name: str  # in CHARTS_DIR, the same for every results file: the page's links stay
    kind: Kind
    scenario: str | None = None  # a latency chart's


def latency_file_name(scenario: str) -> str:
    return f"latency-{scenario.lower().replace('/', '-')}.svg"


def charts_for(document: Document) -> list[Chart]:
    """The charts of a results document: records/s and CPU per record where some contender
    has them, and one latency chart per latency scenario (S7, S8) it measured."""
    charts = []
    if metric_panels(document, Metric.RECORDS_PER_S):
        charts.append(Chart("records-per-s.svg", Kind.RECORDS_PER_S))
    if metric_panels(document, Metric.CPU_US_PER_RECORD):
        charts.append(Chart("cpu-us-per-record.svg", Kind.CPU_US_PER_RECORD))
    charts.extend(
        Chart(latency_file_name(name), Kind.LATENCY, name) for name in latency_scenarios(document)
    )
    return charts
