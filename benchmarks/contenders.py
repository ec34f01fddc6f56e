"""Who is measured: each contender is a process of its own, given the bridge's environment
variables (the baselines and Benthos' configuration read the same ones)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.benthos.command import benthos_command, benthos_defaults_command
from benchmarks.scenarios import Scenario

Command = Callable[[Scenario, Mapping[str, str], Path], list[str]]
"""A contender's command line, from the scenario, the contender's whole environment and a
path prefix for files of its own in the run's work directory (add a suffix to it)."""


def python_module(module: str) -> Command:
    """`python -m <module>`, with the Python that runs the benchmarks."""

    def command(scenario: Scenario, environment: Mapping[str, str], files: Path) -> list[str]:
        return [sys.executable, "-m", module]

    return command


@dataclass(frozen=True)
class Contender:
    name: str
    command: Command
    description: str
    # Over the scenario's bridge settings, for this contender alone.
    settings: Mapping[str, str] = field(default_factory=dict)
    # The contender commits records before the function has them: the run is over once its
    # committed offsets reach the end, whether the function received everything or not.
    commits_before_delivery: bool = False
    # Its throughput is flat after a second and draining a backlog would take it hours: it
    # is measured for a short window (`Sizes.sequential_cap_s`), not to the end.
    measured_briefly: bool = False
    # It invokes nothing and prints its own numbers (records, seconds, CPU) once it has read
    # the topic: there are no receipts to time it by, and nothing it could lose.
    reports_itself: bool = False
    # Its function's answers go to a topic of their own (RESPONSE_TOPIC), made for the run.
    answers: bool = False


BRIDGE = Contender(
    "bridge", python_module("consumer"), "the bridge, its defaults and the scenario's settings"
)
# `bridge@<commit>`: the bridge of an earlier commit (--baseline, benchmarks/baseline_commit.py).
BASELINE_PREFIX = "bridge@"
BRIDGE_UVLOOP = Contender(
    "bridge+uvloop",
    python_module("benchmarks.uvloop_bridge"),
    "the same bridge on uvloop's event loop (measured, not shipped)",
)
BRIDGE_LEGACY = Contender(
    "bridge-legacy",
    python_module("consumer"),
    "the bridge sending the legacy payload, as Benthos does here",
    settings={"PAYLOAD_FORMAT": "legacy"},
)
BRIDGE_ANSWERS = Contender(
    "bridge+answers",
    python_module("consumer"),
    "the bridge producing the function's per-record answers to RESPONSE_TOPIC",
    answers=True,
)
BENTHOS = Contender(
    "benthos",
    benthos_command,
    "Benthos v4.27: kafka_franz, the legacy record, aws_lambda, reject_errored",
)
BENTHOS_DEFAULTS = Contender(
    "benthos-defaults",
    benthos_defaults_command,
    "Benthos v4.27 as a user first runs it: kafka_franz, aws_lambda, drop; its defaults",
    # One record per invocation, two at a time: a backlog would take it hours.
    measured_briefly=True,
)
SEQUENTIAL = Contender(
    "sequential",
    python_module("benchmarks.baselines.sequential"),
    "one consumer, one awaited invoke per record, a commit after each",
    measured_briefly=True,
)
FIRE_AND_FORGET = Contender(
    "fire-and-forget",
    python_module("benchmarks.baselines.fire_and_forget"),
    "poll 500, one invoke per poll not awaited, commit at once (the replaced system)",
    commits_before_delivery=True,
)
CLIENT_FLOOR = Contender(
    "client-floor",
    python_module("benchmarks.baselines.client_floor"),
    "the Kafka client alone: reads and commits with the bridge's settings, invokes nothing",
    reports_itself=True,
)
CONTENDERS = {
    c.name: c
    for c in (
        BRIDGE,
        BRIDGE_UVLOOP,
        BRIDGE_LEGACY,
        BRIDGE_ANSWERS,
        BENTHOS,
        BENTHOS_DEFAULTS,
        SEQUENTIAL,
        FIRE_AND_FORGET,
        CLIENT_FLOOR,
    )
}
