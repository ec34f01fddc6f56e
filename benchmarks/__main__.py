"""`python -m benchmarks`: every scenario, every contender, one table, one JSON file.

    python -m benchmarks                      # S1-S4 at the issue's sizes: a few minutes
    python -m benchmarks --quick              # small sizes, for development
    python -m benchmarks --scenario S1 S4 --records 20000
    python -m benchmarks --quick --scenario S8   # members joining and leaving one group
    python -m benchmarks --scenario S1 S2 --baseline main~3   # beside an earlier commit
    PYTHONPATH=DIR python -m benchmarks --uvloop   # also the bridge on uvloop (in DIR)

It starts the real Apache Kafka broker (jars fetched once into .cache/kafka) and the local
Lambda; each contender runs as its own process. Benthos is built once, on first use, into
.cache/benthos (benchmarks/benthos/build.py); without Go it is left out and the rest run. The
table goes to stdout and the JSON to benchmarks/results/<date>-<commit>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from benchmarks.baseline_commit import (
    BaselineUnavailable,
    baseline_contender,
    extracted,
    resolved,
    with_baseline,
)
from benchmarks.benthos.build import BenthosUnavailable, ensure_built
from benchmarks.churn_timeline import ChurnFigures
from benchmarks.contenders import BENTHOS, BENTHOS_DEFAULTS, CONTENDERS
from benchmarks.environment import started_environment
from benchmarks.membership_churn import run_membership
from benchmarks.report import document, machine, render, write_json
from benchmarks.results_files import RESULTS_DIR
from benchmarks.run import LIVE_LOAD, REPO, ContenderFailed, RunOptions, RunResult, run_contender
from benchmarks.scenarios import ALL, QUICK, Scenario, Sizes, scenarios, with_records


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--scenario", nargs="+", choices=ALL, default=list(ALL))
    parser.add_argument("--records", type=int, help="records preloaded in S1, S2, S4, S5 and S6")
    parser.add_argument(
        "--backlogs", type=int, nargs="+", help="S3's backlog sizes (default 100000 1000000)"
    )
    parser.add_argument(
        "--contender", nargs="+", choices=sorted(CONTENDERS), help="only these (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="also run the bridge of this commit (bridge@<commit>), right after the bridge",
    )
    parser.add_argument(
        "--uvloop", action="store_true", help="also run the bridge on uvloop (must be importable)"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS_DIR,
        help="where the JSON goes (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-work", action="store_true", help="keep the broker's data and the contenders' logs"
    )
    return parser.parse_args(argv)


def chosen_sizes(arguments: argparse.Namespace) -> Sizes:
    sizes = QUICK if arguments.quick else Sizes()
    if arguments.backlogs:
        sizes = replace(sizes, s3_backlogs=tuple(arguments.backlogs))
    return sizes


def chosen_scenarios(arguments: argparse.Namespace, sizes: Sizes) -> list[Scenario]:
    made = scenarios(tuple(arguments.scenario), sizes, uvloop=arguments.uvloop)
    if arguments.contender:
        made = [
            replace(s, contenders=tuple(c for c in s.contenders if c in arguments.contender))
            for s in made
        ]
    return [with_records(s, arguments.records) for s in made if s.contenders]


def with_baseline_commit(chosen: list[Scenario], ref: str, work: Path) -> list[Scenario]:
    """The bridge of commit `ref` as a contender of its own, beside the bridge."""
    commit = resolved(REPO, ref)
    contender = baseline_contender(commit, extracted(REPO, commit, work))
    CONTENDERS[contender.name] = contender
    return with_baseline(chosen, contender.name)


def with_benthos_built(
    chosen: list[Scenario], build: Callable[[], Path] = ensure_built
) -> list[Scenario]:
    """Builds Benthos once, if a chosen scenario runs it. Where it cannot be built (no Go, no
    module proxy), one line says so and every other contender runs."""
    benthos = {BENTHOS.name, BENTHOS_DEFAULTS.name}
    if not any(benthos & set(s.contenders) for s in chosen):
        return chosen
    try:
        build()
    except BenthosUnavailable as why:
        print(f"Benthos is not measured: {why}", file=sys.stderr, flush=True)
        kept = [
            replace(s, contenders=tuple(c for c in s.contenders if c not in benthos))
            for s in chosen
        ]
        return [s for s in kept if s.contenders]
    return chosen


async def run_all(
    chosen: list[Scenario], sizes: Sizes, work_dir: Path
) -> tuple[list[RunResult], list[ChurnFigures]]:
    options = RunOptions(work_dir=work_dir, measured_briefly_s=sizes.sequential_cap_s)
    results: list[RunResult] = []
    churns: list[ChurnFigures] = []
    async with started_environment(work_dir, with_registry=any(s.avro for s in chosen)) as env:
        for scenario in chosen:
            print(f"{scenario.name}: {scenario.title}", file=sys.stderr, flush=True)
            live_rate = None  # the first contender's (the bridge's) half rate, for all
            for name in scenario.contenders:
                began = time.monotonic()
                if scenario.membership is not None:
                    result, churn = await run_membership(env, scenario, CONTENDERS[name], options)
                    churns.append(churn)
                    print(f"  {name}: {churn_summary(churn)}", file=sys.stderr, flush=True)
                    results.append(result)
                    continue
                result = await run_contender(env, scenario, CONTENDERS[name], options, live_rate)
                if live_rate is None and result.drained:
                    live_rate = LIVE_LOAD * result.records_per_s
                print(
                    f"  {name}: {result.records_per_s:,.0f} records/s, "
                    f"{result.records_in_window:,} records in {result.window_s:.1f} s "
                    f"(preloaded {result.records:,} in {result.load_s:.1f} s; "
                    f"run {time.monotonic() - began:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
                results.append(result)
    return results, churns


def churn_summary(churn: ChurnFigures) -> str:
    stops = ", ".join(f"{c.group_stop_s:.1f}" for c in churn.changes)
    return (
        f"{churn.produced:,} produced, {churn.delivered:,} delivered, {churn.lost:,} lost, "
        f"{churn.duplicates:,} duplicates; group stops {stops} s"
    )


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING)
    # The broker's start-up is awaited by connecting until it answers, and a new topic's
    # leaders settle while records are loaded: aiokafka logs both, and retries on its own.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    if arguments.uvloop and importlib.util.find_spec("uvloop") is None:
        print(
            "--uvloop needs uvloop importable: pip install --target DIR uvloop, then "
            "PYTHONPATH=DIR python -m benchmarks --uvloop",
            file=sys.stderr,
        )
        return 2
    sizes = chosen_sizes(arguments)
    chosen = with_benthos_built(chosen_scenarios(arguments, sizes))
    about = machine(REPO)
    work = Path(tempfile.mkdtemp(prefix="k2l-bench-"))
    try:
        if arguments.baseline is not None:
            chosen = with_baseline_commit(chosen, arguments.baseline, work)
        results, churns = asyncio.run(run_all(chosen, sizes, work))
    except ContenderFailed as failure:
        print(f"benchmark failed: {failure}", file=sys.stderr)
        return 1
    except BaselineUnavailable as why:
        print(f"benchmark not run: {why}", file=sys.stderr)
        return 2
    finally:
        if not arguments.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}", file=sys.stderr)
    about["load_average_at_end"] = [round(load, 2) for load in os.getloadavg()]
    text = render(results, chosen, about, churns)
    print(text)
    arguments.results.mkdir(parents=True, exist_ok=True)
    complete = not (
        arguments.quick
        or arguments.records
        or arguments.backlogs
        or arguments.contender
        or set(arguments.scenario) != set(ALL)
    )
    payload = document(results, chosen, about, text, churns)
    path = write_json(arguments.results, about, payload, complete=complete)
    print(f"\nresults: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    losing = [c for c in churns if c.lost]
    for churn in losing:  # the one outcome S8 must never have
        print(
            f"benchmark failed: {churn.scenario} {churn.contender} LOST {churn.lost:,} of "
            f"{churn.produced:,} records",
            file=sys.stderr,
        )
    return 1 if losing else 0


if __name__ == "__main__":
    sys.exit(main())
