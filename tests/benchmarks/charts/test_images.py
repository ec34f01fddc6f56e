"""Which charts a results document makes, known without matplotlib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.charts.images import Chart, Kind, charts_for, latency_file_name
from tests.benchmarks.charts.document import document

REPO = Path(__file__).resolve().parents[3]


def test_a_document_makes_its_speed_and_cost_charts_and_one_per_latency_scenario() -> None:
    assert charts_for(document()) == [
        Chart("records-per-s.svg", Kind.RECORDS_PER_S),
        Chart("cpu-us-per-record.svg", Kind.CPU_US_PER_RECORD),
        Chart("latency-s7.svg", Kind.LATENCY, "S7"),
        Chart("latency-s8.svg", Kind.LATENCY, "S8"),
    ]


def test_an_old_document_without_latency_scenarios_makes_no_latency_chart() -> None:
    old = document()
    for scenario in old["scenarios"]:
        del scenario["live_rate"]  # results files before S7 had no such field
    old["results"] = [r for r in old["results"] if r["scenario"] not in ("S7", "S8")]
    assert [c.file_name for c in charts_for(old)] == ["records-per-s.svg", "cpu-us-per-record.svg"]


def test_a_latency_charts_file_name_is_the_scenarios_in_lower_case() -> None:
    assert latency_file_name("S7") == "latency-s7.svg"
    assert latency_file_name("S3/100000") == "latency-s3-100000.svg"


def test_the_charts_are_named_without_matplotlib() -> None:
    blocked = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from benchmarks.charts import charts_for\n"
        "from benchmarks.results_files import latest_results, load_results\n"
        "print(len(charts_for(load_results(latest_results()))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocked], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 1
