"""Which results file is the latest complete one, and which one a run wrote last."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from benchmarks.results_files import (
    RESULTS_DIR,
    ResultsNotFound,
    chosen_results,
    is_partial,
    latest_results,
    newest_written,
)

REPO = Path(__file__).resolve().parents[2]


def written(directory: Path, name: str, date: str, mtime_s: int = 1_000) -> Path:
    path = directory / name
    path.write_text(json.dumps({"machine": {"date": date}}))
    os.utime(path, (mtime_s, mtime_s))
    return path


def test_the_latest_is_the_run_measured_last_not_the_last_name_of_the_day(tmp_path: Path) -> None:
    written(tmp_path, "2026-12-01-ffffff0.json", "2026-12-01T09:00:00+00:00")
    later = written(tmp_path, "2026-12-01-0000000.json", "2026-12-01T15:00:00+00:00")
    written(tmp_path, "2026-12-02-1111111-partial.tmp", "2026-12-02T09:00:00+00:00")
    assert latest_results(tmp_path) == later  # a partial run is never the latest results


def test_no_results_says_how_to_make_them(tmp_path: Path) -> None:
    with pytest.raises(ResultsNotFound, match="make bench"):
        latest_results(tmp_path)
    with pytest.raises(ResultsNotFound, match="make bench"):
        newest_written(tmp_path)
    with pytest.raises(ResultsNotFound, match="no results file"):
        chosen_results(tmp_path / "missing.json", tmp_path)


def test_the_newest_written_is_the_file_a_run_just_wrote_partial_or_not(tmp_path: Path) -> None:
    written(tmp_path, "2026-12-07-aaaaaaa.json", "2026-12-07T09:00:00+00:00", mtime_s=2_000)
    partial = written(
        tmp_path, "2026-12-01-bbbbbbb-partial.tmp", "2026-12-01T09:00:00+00:00", mtime_s=3_000
    )
    assert newest_written(tmp_path) == partial
    assert is_partial(partial)
    assert not is_partial(tmp_path / "2026-12-07-aaaaaaa.json")


def test_a_named_results_file_is_taken_as_it_is(tmp_path: Path) -> None:
    named = written(tmp_path, "x-partial.tmp", "2026-12-01T09:00:00+00:00")
    assert chosen_results(named, tmp_path) == named
    assert chosen_results(None, RESULTS_DIR).suffix == ".json"


def test_git_ignores_a_partial_runs_file_and_its_charts() -> None:
    for path in ("2026-12-07-abc1234-partial.tmp", "2026-12-07-abc1234-partial-charts.tmp/x.svg"):
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", f"benchmarks/results/{path}"], cwd=REPO, check=False
        )
        assert ignored.returncode == 0, f"git would show benchmarks/results/{path}"
