"""The figure of each kind of chart, from a results document (imports matplotlib)."""

from __future__ import annotations

from matplotlib.figure import Figure

from benchmarks.charts.bars import metric_figure
from benchmarks.charts.images import Chart, Kind
from benchmarks.charts.latency import latency_figure
from benchmarks.charts.series import (
    Document,
    Metric,
    change_latencies,
    latency_curves,
    metric_panels,
    scenarios_of,
)

_METRICS = {
    Kind.RECORDS_PER_S: Metric.RECORDS_PER_S,
    Kind.CPU_US_PER_RECORD: Metric.CPU_US_PER_RECORD,
}


def figure_of(document: Document, chart: Chart, source: str) -> Figure:
    if chart.kind is Kind.LATENCY:
        name = str(chart.scenario)
        return latency_figure(
            name,
            scenarios_of(document)[name],
            latency_curves(document, name),
            change_latencies(document, name),
            source,
        )
    metric = _METRICS[chart.kind]
    return metric_figure(metric_panels(document, metric), metric, source)
