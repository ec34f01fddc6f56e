"""Who is measured: each contender is a module run as its own process, with the bridge's
environment variables (the baselines read the same ones)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Contender:
    name: str
    module: str  # run as `python -m <module>`
    description: str
    # The contender commits records before the function has them: the run is over once its
    # committed offsets reach the end, whether the function received everything or not.
    commits_before_delivery: bool = False
    # Its throughput is flat after a second and draining a backlog would take it hours: it
    # is measured for a short window (`Sizes.sequential_cap_s`), not to the end.
    measured_briefly: bool = False
    # It invokes nothing and prints its own numbers (records, seconds, CPU) once it has read
    # the topic: there are no receipts to time it by, and nothing it could lose.
    reports_itself: bool = False


BRIDGE = Contender("bridge", "consumer", "the bridge, its defaults and the scenario's settings")
BRIDGE_UVLOOP = Contender(
    "bridge+uvloop",
    "benchmarks.uvloop_bridge",
    "the same bridge on uvloop's event loop (measured, not shipped)",
)
SEQUENTIAL = Contender(
    "sequential",
    "benchmarks.baselines.sequential",
    "one consumer, one awaited invoke per record, a commit after each",
    measured_briefly=True,
)
FIRE_AND_FORGET = Contender(
    "fire-and-forget",
    "benchmarks.baselines.fire_and_forget",
    "poll 500, one invoke per poll not awaited, commit at once (the replaced system)",
    commits_before_delivery=True,
)
CLIENT_FLOOR = Contender(
    "client-floor",
    "benchmarks.baselines.client_floor",
    "the Kafka client alone: reads and commits with the bridge's settings, invokes nothing",
    reports_itself=True,
)
CONTENDERS = {c.name: c for c in (BRIDGE, BRIDGE_UVLOOP, SEQUENTIAL, FIRE_AND_FORGET, CLIENT_FLOOR)}
