"""An earlier commit of the bridge as a contender of its own (`--baseline REF`): a change is
measured against what it changes in the same run, on the same broker, machine and load,
rather than against numbers from another day.

The commit's tree is extracted with `git archive` into the run's work directory, and its
`python -m consumer` runs from there (ahead of this checkout on the import path), with the
Python and libraries of this one: a baseline whose pins differ measures its code, not them.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from benchmarks.contenders import BASELINE_PREFIX, BRIDGE, Command, Contender
from benchmarks.scenarios import Scenario


class BaselineUnavailable(Exception):
    """The named commit cannot be read from this repository."""


def resolved(repo: Path, ref: str) -> str:
    """The commit `ref` names, short; BaselineUnavailable if git does not know it."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", "--verify", f"{ref}^{{commit}}"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BaselineUnavailable(
            f"--baseline {ref}: not a commit of {repo}: {done.stderr.strip()}"
        )
    return done.stdout.strip()


def extracted(repo: Path, commit: str, into: Path) -> Path:
    """The commit's `consumer/` package, extracted under `into`; the directory to import from."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "consumer"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout
    source = into / f"baseline-{commit}"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(source, filter="data")
    return source


def from_source(source: Path) -> Command:
    """`python -m consumer`, importing `consumer` from `source` rather than this checkout."""
    program = (
        f"import runpy, sys; sys.path.insert(0, {str(source)!r}); "
        "runpy.run_module('consumer', run_name='__main__', alter_sys=True)"
    )

    def command(scenario: Scenario, environment: Mapping[str, str], files: Path) -> list[str]:
        return [sys.executable, "-c", program]

    return command


def baseline_contender(commit: str, source: Path) -> Contender:
    return replace(
        BRIDGE,
        name=f"{BASELINE_PREFIX}{commit}",
        command=from_source(source),
        description=f"the bridge as of commit {commit}, with the same settings",
    )


def with_baseline(scenarios: list[Scenario], name: str) -> list[Scenario]:
    """`name` measured right after the bridge, in every scenario that measures the bridge by
    its throughput (not S8's membership changes, whose figures are another kind)."""
    return [
        replace(s, contenders=_after_bridge(s.contenders, name))
        if s.membership is None and BRIDGE.name in s.contenders
        else s
        for s in scenarios
    ]


def _after_bridge(contenders: tuple[str, ...], name: str) -> tuple[str, ...]:
    at = contenders.index(BRIDGE.name) + 1
    return (*contenders[:at], name, *contenders[at:])
