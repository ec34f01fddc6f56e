"""S8's table and targets, from hand-made figures."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from benchmarks.churn_report import churn_table, churn_targets
from benchmarks.churn_timeline import ChurnFigures, WindowFigures
from benchmarks.report import document, render

ABOUT = {
    "date": "2026-12-07T10:00:00+00:00",
    "cpu_model": "AMD EPYC",
    "cores": 2,
    "hypervisor": True,
    "load_average": [0.5, 0.6, 0.7],
    "python": "3.11.7",
    "commit": "abc1234",
    "uncommitted_changes": False,
}


def window(label: str, **overrides: Any) -> WindowFigures:
    fields: dict[str, Any] = {
        "label": label,
        "at_s": 25.0,
        "length_s": 25.0,
        "group_stop_s": 0.3,
        "partition_stop_median_s": 2.5,
        "partition_stop_max_s": 3.5,
        "p99_near_ms": 4_000.0,
        "near_records": 1_100,
        "in_flight_invocations": 24,
        "in_flight_records": 250,
        "duplicates": 0,
        "overlapping_pairs": 0,
        **overrides,
    }
    return WindowFigures(**fields)


def figures(contender: str, *changes: WindowFigures, **overrides: Any) -> ChurnFigures:
    steady = window("steady", at_s=0.0, in_flight_invocations=None, in_flight_records=None)
    fields: dict[str, Any] = {
        "scenario": "S8",
        "contender": contender,
        "steady": steady,
        "changes": list(changes) or [window("join 1 → 2"), window("leave 2 → 1", at_s=50.0)],
        "produced": 14_000,
        "delivered": 14_000,
        "lost": 0,
        "duplicates": 0,
        "overlapping_pairs": 0,
        "p50_ms": 1_200.0,
        "p99_ms": 4_000.0,
        "p99_near_ms": 4_000.0,
        "p99_rest_ms": 3_500.0,
        "near_s": 10.0,
        **overrides,
    }
    return ChurnFigures(**fields)


def test_the_table_has_the_steady_window_each_change_and_the_whole_run() -> None:
    lines = churn_table([figures("bridge")]).splitlines()
    assert len(lines) == 2 + 4
    assert len({len(line) for line in lines}) == 1  # aligned columns
    steady, join, _, whole = (line.split("|")[1:-1] for line in lines[2:])
    assert [cell.strip() for cell in steady[6:8]] == ["—", "—"]
    assert [cell.strip() for cell in join[1:8]] == [
        "join 1 → 2",
        "25",
        "0.30",
        "2.50",
        "3.50",
        "4,000 (1,100)",
        "250 in 24",
    ]
    assert whole[6].strip() == "4,000 (rest 3,500)"
    assert whole[7].strip() == "14,000 produced, 14,000 delivered, 0 lost"


def test_a_bridge_meeting_every_target() -> None:
    judged = churn_targets([figures("bridge")])
    assert [t.met for t in judged] == [True] * 5
    assert judged[0].evidence == "0.30, 0.30 s; steady 0.30 s"


def test_each_target_is_missed_on_its_own_figure() -> None:
    stop = window("join 1 → 2", group_stop_s=0.6)
    late = window("join 1 → 2", p99_near_ms=5_300.0)  # 5,300 / 3,500 = 1.5x and a bit
    repeated = window("join 1 → 2", duplicates=251)
    cases = {
        "the group stops": figures("bridge", stop),
        "end-to-end p99": figures("bridge", late),
        "duplicates per change": figures("bridge", repeated),
        "no two invocations": figures("bridge", overlapping_pairs=1),
        "nothing lost": figures("bridge", lost=1, delivered=13_999),
    }
    for missed, run in cases.items():
        verdicts = {t.name: t.met for t in churn_targets([run])}
        assert [name for name, met in verdicts.items() if not met] == [
            name for name in verdicts if missed in name
        ], missed


def test_benthos_is_judged_by_nothing_and_shown_beside_each_bridge() -> None:
    benthos = figures("benthos", overlapping_pairs=842)
    judged = churn_targets([figures("bridge"), figures("bridge-legacy"), benthos])
    assert len(judged) == 10  # five for each bridge
    assert all(t.name.startswith(("S8 bridge:", "S8 bridge-legacy:")) for t in judged)
    overlaps = judged[3]
    assert overlaps.evidence == "0 overlapping pairs (Benthos: 842)"


def test_the_report_and_its_json_carry_the_membership_figures() -> None:
    run = figures("bridge", lost=2, delivered=13_998)
    text = render([], [], ABOUT, [run])
    assert "S8, membership changes" in text
    assert "[MISSED] S8 bridge: nothing lost: 14,000 produced, 13,998 delivered, 2 lost" in text
    payload = document([], [], ABOUT, text, [replace(run, lost=0)])
    assert payload["membership_changes"][0]["changes"][0]["label"] == "join 1 → 2"
    assert payload["targets"][-1]["met"] is True
