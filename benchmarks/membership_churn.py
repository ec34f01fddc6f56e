"""S8: one consumer group whose members join and leave on a schedule while records are
produced at a steady rate, measured at the function (benchmarks/churn_timeline.py).

1. The topic gets a few warm-up records and the first member starts; its first delivery says
   it has joined.
2. Records are produced live at the scenario's rate for the schedule's length. A spacing
   after production starts, and a spacing apart, each change either starts one more member
   (the same command and environment: the same group) or sends SIGTERM to the newest and
   waits for it to exit, as ECS stops a task. The change's moment is when the schedule acts.
3. Once production ends the group delivers the rest, and the last member is stopped. Every
   produced record must have reached the function: a missing one is lost.

Every member is watched each tick: one that exits on its own fails the run.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.churn_timeline import (
    Call,
    Change,
    ChurnFigures,
    call_of,
    churn_figures,
    first_starts,
)
from benchmarks.contenders import Contender
from benchmarks.environment import Environment
from benchmarks.measure import sample_process
from benchmarks.receiver import Receiver, record_id
from benchmarks.run import (
    ContenderFailed,
    RunOptions,
    RunResult,
    contender_environment,
    run_tag,
)
from benchmarks.scenarios import Membership, Scenario
from consumer.local import Invocation
from consumer.local.broker_process import log_tail, start_broker_process
from consumer.local.invocations import DELIVERED

_FIRST_RECEIPT_TIMEOUT_S = 120.0
_DRAIN_S = 60.0  # after production ends, time for the group to deliver the rest
_STOP_TIMEOUT_S = 60.0  # a member drains on SIGTERM (the bridge within its 30 s budget)
_TICK_S = 0.1
_SEED = 8  # the function's latency draws


class Timeline:
    """Every invocation the function ran, as a Call (its event is not kept)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def observe(self, invocation: Invocation) -> None:
        if invocation.outcome in DELIVERED and invocation.event is not None:
            self.calls.append(call_of(invocation.event, invocation.started_at, invocation.ended_at))


@dataclass
class _Member:
    popen: subprocess.Popen[bytes]
    log_path: Path
    stopping: bool = False  # sent SIGTERM by the schedule: its exit is expected


@dataclass
class _Group:
    """The contender's processes, newest last."""

    command: list[str]
    environment: dict[str, str]
    log_prefix: Path
    members: list[_Member] = field(default_factory=list)
    started: int = 0
    exit_codes: list[int] = field(default_factory=list)
    peak_rss_bytes: int = 0

    def join(self) -> None:
        self.started += 1
        log_path = self.log_prefix.with_name(f"{self.log_prefix.name}-member{self.started}.log")
        # The same settings; a health file of its own, so members do not overwrite each other.
        environment = {**self.environment, "HEALTH_FILE": f"{log_path}.health"}
        popen = start_broker_process(self.command, log_path, env=environment)
        self.members.append(_Member(popen, log_path))

    async def leave(self) -> None:
        """SIGTERM to the newest member; returns once it has exited (SIGKILL past the limit)."""
        member = self.members[-1]
        member.stopping = True
        member.popen.terminate()
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        while member.popen.poll() is None:
            if time.monotonic() >= deadline:
                member.popen.kill()
                await asyncio.to_thread(member.popen.wait)
                break
            self.check()
            await asyncio.sleep(_TICK_S)
        self.members.remove(member)
        self.exit_codes.append(member.popen.returncode)

    async def stop_all(self) -> None:
        while self.members:
            await self.leave()

    def check(self) -> None:
        """Samples every member's memory; a member that exited unasked fails the run."""
        for member in self.members:
            if member.popen.poll() is not None:
                if member.stopping:
                    continue
                raise ContenderFailed(
                    f"a member exited with code {member.popen.returncode}; its log "
                    f"({member.log_path}) ends with:\n{log_tail(member.log_path)}"
                )
            try:
                sample = sample_process(member.popen.pid)
            except ProcessLookupError:
                continue  # exited between the poll and the read: the next tick says so
            self.peak_rss_bytes = max(self.peak_rss_bytes, sample.peak_rss_bytes)

    async def watch(self, done: Callable[[], bool], until: float) -> bool:
        """Checks the members every tick until `done()` (True) or `until` passes (False)."""
        while True:
            self.check()
            if done():
                return True
            if time.monotonic() >= until:
                return False
            await asyncio.sleep(_TICK_S)


async def run_membership(
    env: Environment, scenario: Scenario, contender: Contender, options: RunOptions
) -> tuple[RunResult, ChurnFigures]:
    """One contender through the schedule: its row of the main table and its S8 figures."""
    membership = scenario.membership
    if membership is None:
        raise ValueError(f"{scenario.name} has no membership schedule")
    tag = run_tag(scenario, contender)
    topic = f"bench-{tag}-{uuid.uuid4().hex[:6]}"
    await env.create_topic(topic, scenario.workload.partitions)
    try:
        return await _measure(env, scenario, membership, contender, options, tag, topic)
    finally:
        await env.delete_topic(topic)


async def _measure(
    env: Environment,
    scenario: Scenario,
    membership: Membership,
    contender: Contender,
    options: RunOptions,
    tag: str,
    topic: str,
) -> tuple[RunResult, ChurnFigures]:
    loading = time.monotonic()
    ends = await env.load(topic, scenario.workload, scenario.records)
    load_s = time.monotonic() - loading
    receiver, timeline = Receiver(), Timeline()
    receiver.expect(scenario.records)
    outcomes = env.serve(
        tag,
        receiver,
        membership.function_latency_s,
        None,
        timeout_s=membership.function_timeout_s,
        seed=_SEED,
        observer=timeline.observe,
    )
    environment = contender_environment(env, scenario, contender, options, tag, topic)
    log_prefix = options.work_dir / tag
    group = _Group(contender.command(scenario, environment, log_prefix), environment, log_prefix)
    rate = _live_rate(scenario)
    produced_ms: dict[int, list[float]] = {}
    try:
        group.join()
        limit = time.monotonic() + _FIRST_RECEIPT_TIMEOUT_S
        if not await group.watch(receiver.first_receipt.is_set, limit):
            first_log = group.members[0].log_path
            raise ContenderFailed(
                f"{contender.name} delivered nothing within {_FIRST_RECEIPT_TIMEOUT_S:.0f} s; "
                f"its log ({first_log}) ends with:\n{log_tail(first_log)}"
            )
        # Production is timed by the driver's wall clock, invocations by the monotonic one.
        wall_minus_monotonic = time.time() - time.monotonic()
        began = time.monotonic()
        production = asyncio.create_task(
            env.load_at_rate(
                topic, scenario.workload, scenario.records, rate, scenario.live_s, produced_ms
            )
        )
        changes = await _follow(group, membership, began, production)
        live = await production
        ended = time.monotonic()
        produced = scenario.records + sum(live.values())
        receiver.expect(produced)
        await group.watch(receiver.reached.is_set, time.monotonic() + _DRAIN_S)
    finally:
        await group.stop_all()
    produced_at = {
        record_id(p, ends[p] + i): ms / 1000 - wall_minus_monotonic
        for p, times in produced_ms.items()
        for i, ms in enumerate(times)
    }
    figures = churn_figures(
        scenario.name,
        contender.name,
        timeline.calls,
        changes,
        produced_at,
        produced=produced,
        partitions=scenario.workload.partitions,
        began=began,
        ended=ended,
        near_s=membership.near_change_s,
    )
    first = first_starts(timeline.calls)
    result = RunResult(
        scenario=scenario.name,
        contender=contender.name,
        records=scenario.records,
        load_s=load_s,
        drained=receiver.reached.is_set(),
        window_s=ended - began,
        # What reached the function for the first time while records were produced.
        records_in_window=sum(1 for at in first.values() if began <= at < ended),
        invocations_in_window=sum(1 for c in timeline.calls if began <= c.started_at < ended),
        cpu_s_in_window=0.0,  # members come and go: CPU per record is not this measure
        cpu_records=0,
        peak_rss_bytes=group.peak_rss_bytes,
        driver_cpu_cores=0.0,
        live_rate=rate,
        live_records=produced - scenario.records,
        latency_p50_ms=figures.p50_ms,
        latency_p99_ms=figures.p99_ms,
        latency_percentiles_ms=figures.percentiles_ms,
        deliveries=receiver.deliveries,
        distinct=len(receiver.seen),
        lost=figures.lost,
        throttles=len(outcomes.throttled_at),
        outcomes=dict(outcomes.counts),
        exit_code=max(group.exit_codes, key=abs, default=None),
        log=f"{log_prefix}-member*.log",
    )
    return result, figures


def _live_rate(scenario: Scenario) -> float:
    if scenario.live_rate is None:
        raise ValueError(f"{scenario.name} produces no records live")
    return scenario.live_rate


async def _follow(
    group: _Group, membership: Membership, began: float, production: asyncio.Task[object]
) -> list[Change]:
    """Starts and stops members on the schedule; the changes as they happened."""
    changes = []
    for step, members in enumerate(membership.members[1:], start=1):
        due = began + step * membership.spacing_s
        await group.watch(production.done, due)
        if production.done() and production.exception() is not None:
            break  # its error is raised where it is awaited
        before = len(group.members)
        at = time.monotonic()
        if members > before:
            group.join()
        else:
            await group.leave()
        changes.append(Change(at, before, members))
    return changes
