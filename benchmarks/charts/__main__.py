"""`python -m benchmarks.charts`: the benchmarks' charts for docs/benchmarks.md, as SVG.

    python -m benchmarks.charts            # the latest complete results, into docs/benchmarks/
    python -m benchmarks.charts RESULTS    # that results file
    python -m benchmarks.charts --newest   # the file the last run wrote (what make bench draws)

A partial run's charts (`*-partial.tmp`: --quick, some scenarios...) go beside it, into
`<its name>-charts.tmp/`, which git ignores: the page shows complete runs only. Needs
matplotlib, of requirements/bench.txt: `make bench-charts` installs it into .venv and draws.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.charts.draw import ChartsUnavailable, draw_charts
from benchmarks.charts.images import CHARTS_DIR
from benchmarks.results_files import (
    ResultsNotFound,
    chosen_results,
    is_partial,
    load_results,
    newest_written,
)

_HERE = Path.cwd()


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.charts", description=__doc__.split("\n")[0]
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "results",
        nargs="?",
        type=Path,
        help="the results file to draw (default: the latest complete one in benchmarks/results/)",
    )
    which.add_argument(
        "--newest",
        action="store_true",
        help="the results file written last in benchmarks/results/, complete or partial",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"where the SVGs go (default: {CHARTS_DIR}; a partial run's: beside its file)",
    )
    return parser.parse_args(argv)


def charts_dir_for(results: Path) -> Path:
    """docs/benchmarks/ for a complete run; beside a partial run's file, which git ignores."""
    if is_partial(results):
        return results.with_name(results.name.removesuffix(".tmp") + "-charts.tmp")
    return CHARTS_DIR


def shown(path: Path) -> str:
    """A path as short as it can be said from here."""
    resolved = path.resolve()
    return str(resolved.relative_to(_HERE) if resolved.is_relative_to(_HERE) else resolved)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        path = newest_written() if arguments.newest else chosen_results(arguments.results)
        out = arguments.out or charts_dir_for(path)
        written = draw_charts(load_results(path), path.name, out)
    except (ResultsNotFound, ChartsUnavailable) as why:
        print(f"charts not drawn: {why}", file=sys.stderr)
        return 2
    names = ", ".join(p.name for p in written)
    print(f"charts of {shown(path)} drawn into {shown(out)}/: {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
