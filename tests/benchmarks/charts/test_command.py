"""`python -m benchmarks.charts`: where it draws, and what it says when it cannot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks.charts.__main__ import charts_dir_for, main
from benchmarks.charts.images import CHARTS_DIR


def test_a_complete_runs_charts_go_to_the_docs_and_a_partial_runs_beside_it() -> None:
    results = Path("benchmarks/results")
    assert charts_dir_for(results / "2026-12-07-abc1234.json") == CHARTS_DIR
    partial = results / "2026-12-07-abc1234-partial.tmp"
    assert charts_dir_for(partial) == results / "2026-12-07-abc1234-partial-charts.tmp"


def test_without_matplotlib_it_says_how_to_install_it_and_draws_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as in the test set: not installed
    assert main(["--out", str(tmp_path / "charts")]) == 2
    said = capsys.readouterr().err
    assert said.count("\n") == 1
    assert "make bench-charts" in said
    assert "requirements/bench.txt" in said
    assert not (tmp_path / "charts").exists()


def test_a_missing_results_file_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "nowhere.json"), "--out", str(tmp_path)]) == 2
    assert "no results file" in capsys.readouterr().err
