"""The results files: where a run writes its JSON, which of them is the latest, and which
are partial.

A complete run (every scenario at its default size) writes `<date>-<commit>.json`, the file
to commit; any other run `<date>-<commit>-partial.tmp`, which git ignores
(benchmarks/report.py `write_json`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PARTIAL_SUFFIX = "-partial.tmp"


class ResultsNotFound(FileNotFoundError):
    """No results file where one was looked for; the message says how to make one."""


def load_results(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def is_partial(path: Path) -> bool:
    return path.name.endswith(PARTIAL_SUFFIX)


def latest_results(directory: Path = RESULTS_DIR) -> Path:
    """The complete run measured last: the `<date>-<commit>.json` whose machine date is the
    latest (a day may hold several runs, and the commit says nothing of their order)."""
    found = sorted(directory.glob("*.json"))
    if not found:
        raise ResultsNotFound(
            f"no results in {directory}: run `make bench` (every scenario) to write one"
        )
    return max(found, key=lambda path: (load_results(path)["machine"]["date"], path.name))


def newest_written(directory: Path = RESULTS_DIR) -> Path:
    """The results file written last, complete or partial: the one a run just wrote."""
    found = [*directory.glob("*.json"), *directory.glob(f"*{PARTIAL_SUFFIX}")]
    if not found:
        raise ResultsNotFound(f"no results in {directory}: run `make bench` to write one")
    return max(found, key=lambda path: (path.stat().st_mtime_ns, path.name))


def chosen_results(path: Path | None, directory: Path = RESULTS_DIR) -> Path:
    """`path`, which must be a file; without one, the latest complete results in
    `directory`."""
    if path is None:
        return latest_results(directory)
    if not path.is_file():
        raise ResultsNotFound(f"no results file {path}")
    return path
