"""What each chart plots, read from a results document (the JSON of benchmarks/results/).

Pure: a document in, plain values out. Results files written before a field existed lack
it, so every field but the scenario's and the contender's name is read as optional.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

Document = Mapping[str, Any]


class Metric(Enum):
    """A number of a result row drawn per contender and scenario; its value is the row's
    field."""

    RECORDS_PER_S = "records_per_s"
    CPU_US_PER_RECORD = "cpu_us_per_record"


@dataclass(frozen=True)
class Bar:
    contender: str
    value: float


@dataclass(frozen=True)
class Panel:
    """One scenario's bars, contenders in the order they ran."""

    scenario: str
    title: str
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Curve:
    """One contender's latency by percentile: (percentile 0-100, ms), percentile ascending.
    `complete`: from the whole distribution; else only the p50, p99 and max a results file
    written before the distribution was kept."""

    contender: str
    points: tuple[tuple[float, float], ...]
    complete: bool


@dataclass(frozen=True)
class ChangeLatency:
    """S8: one contender's e2e p99 for the records produced just after each change, and for
    those produced near no change."""

    contender: str
    changes: tuple[str, ...]  # "join 1 → 2", ...
    p99_near_ms: tuple[float | None, ...]
    p99_rest_ms: float | None
    near_s: float


def scenario_order(name: str) -> tuple[int, int, str]:
    """S1 < S2 < S3/100000 < S3/1000000 < S10, whatever order they ran in."""
    match = re.fullmatch(r"S(\d+)(?:/(\d+))?", name)
    if match is None:
        return (1_000_000, 0, name)
    return (int(match.group(1)), int(match.group(2) or 0), name)


def scenarios_of(document: Document) -> dict[str, Mapping[str, Any]]:
    """Each scenario's settings by name (title, L, live rate...)."""
    return {s["name"]: s for s in document.get("scenarios", [])}


def is_latency_scenario(scenario: Mapping[str, Any]) -> bool:
    """Records produced live at a fixed rate (S7, S8): latency is the measure, and their
    records/s are a warm-up's or the rate produced, not a contender's speed."""
    return scenario.get("live_rate") is not None


def _rows(document: Document, scenario: str) -> list[Mapping[str, Any]]:
    return [r for r in document.get("results", []) if r["scenario"] == scenario]


def metric_panels(document: Document, metric: Metric) -> list[Panel]:
    """A panel per scenario with a value of `metric`, latency scenarios left out."""
    settings = scenarios_of(document)
    names = {r["scenario"] for r in document.get("results", [])}
    panels = []
    for name in sorted(names, key=scenario_order):
        scenario = settings.get(name, {})
        if is_latency_scenario(scenario):
            continue
        bars = tuple(
            Bar(r["contender"], float(r[metric.value]))
            for r in _rows(document, name)
            if r.get(metric.value) is not None
        )
        if bars:
            panels.append(Panel(name, scenario.get("title", ""), bars))
    return panels


def latency_scenarios(document: Document) -> list[str]:
    """The latency scenarios with a latency measured for some contender."""
    settings = scenarios_of(document)
    return sorted(
        {
            name
            for name, scenario in settings.items()
            if is_latency_scenario(scenario)
            and any(latency_curve(r) is not None for r in _rows(document, name))
        },
        key=scenario_order,
    )


def latency_curve(row: Mapping[str, Any]) -> Curve | None:
    """The row's distribution (latency_percentiles_ms), or, in an older file, its p50, p99
    and max; None when it has no latency."""
    distribution = row.get("latency_percentiles_ms")
    if distribution:
        every = sorted((float(q), float(ms)) for q, ms in distribution.items())
        return Curve(row["contender"], tuple(every), complete=True)
    kept = (
        (50.0, row.get("latency_p50_ms")),
        (99.0, row.get("latency_p99_ms")),
        (100.0, row.get("latency_max_ms")),
    )
    some = tuple((q, float(ms)) for q, ms in kept if ms is not None)
    return Curve(row["contender"], some, complete=False) if some else None


def latency_curves(document: Document, scenario: str) -> list[Curve]:
    curves = (latency_curve(r) for r in _rows(document, scenario))
    return [c for c in curves if c is not None]


def change_latencies(document: Document, scenario: str) -> list[ChangeLatency]:
    """Each contender's e2e p99 near each membership change (S8's figures)."""
    return [
        ChangeLatency(
            contender=run["contender"],
            changes=tuple(c["label"] for c in run["changes"]),
            p99_near_ms=tuple(c.get("p99_near_ms") for c in run["changes"]),
            p99_rest_ms=run.get("p99_rest_ms"),
            near_s=run.get("near_s", 0.0),
        )
        for run in document.get("membership_changes", [])
        if run["scenario"] == scenario and run["changes"]
    ]
