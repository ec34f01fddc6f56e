"""What each chart plots, read from a results document, old results files included."""

from __future__ import annotations

from benchmarks.charts.series import (
    Bar,
    Metric,
    change_latencies,
    latency_curve,
    latency_curves,
    latency_scenarios,
    metric_panels,
    scenario_order,
)
from tests.benchmarks.charts.document import document, row


def test_scenarios_are_ordered_by_number_then_backlog_whatever_order_they_ran_in() -> None:
    names = ["S10", "S3/1000000", "S2", "S3/100000", "S9"]
    assert sorted(names, key=scenario_order) == ["S2", "S3/100000", "S3/1000000", "S9", "S10"]


def test_records_per_s_panels_leave_out_the_latency_scenarios() -> None:
    panels = metric_panels(document(), Metric.RECORDS_PER_S)
    assert [p.scenario for p in panels] == ["S2", "S3/100000", "S3/1000000"]
    assert panels[0].bars == (
        Bar("bridge", 50_000.0),
        Bar("sequential", 75.0),
        Bar("client-floor", 199_000.0),
    )
    assert panels[0].title == "CPU-bound: L = 5 ms"


def test_cpu_panels_hold_only_the_contenders_that_measured_it() -> None:
    panels = metric_panels(document(), Metric.CPU_US_PER_RECORD)
    assert [b.contender for b in panels[0].bars] == ["bridge", "sequential"]


def test_latency_scenarios_are_those_produced_live_at_a_fixed_rate_with_a_latency() -> None:
    assert latency_scenarios(document()) == ["S7", "S8"]
    measured_nothing = document()
    measured_nothing["results"] = [r for r in measured_nothing["results"] if r["scenario"] != "S8"]
    assert latency_scenarios(measured_nothing) == ["S7"]


def test_a_distribution_is_drawn_at_every_percentile_in_numeric_order() -> None:
    curve = latency_curves(document(), "S7")[0]
    assert curve.complete
    # "100" sorts before "99" as text: the points are ordered as numbers
    assert curve.points == ((0, 11.0), (50, 20.0), (99, 30.0), (99.9, 39.0), (100, 40.0))


def test_an_older_row_without_a_distribution_gives_the_percentiles_it_kept() -> None:
    curve = latency_curve(row("S7", "benthos", latency_p50_ms=66.0, latency_p99_ms=117.0))
    assert curve is not None
    assert not curve.complete
    assert curve.points == ((50.0, 66.0), (99.0, 117.0))  # no max kept: none drawn
    assert latency_curve(row("S1", "sequential")) is None


def test_each_s8_contender_has_its_p99_near_each_change_and_the_rests() -> None:
    (bridge,) = change_latencies(document(), "S8")
    assert bridge.changes == ("join 1 → 2", "leave 2 → 1")
    assert bridge.p99_near_ms == (3600.0, None)
    assert (bridge.p99_rest_ms, bridge.near_s) == (3800.0, 10.0)
    assert change_latencies(document(), "S7") == []
