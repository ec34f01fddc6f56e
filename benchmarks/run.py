"""One contender in one scenario: load its topic, start it, measure, stop it, count.

Each run has a topic, a consumer group and a function of its own, loaded with the same
records (`Workload`), so no run sees another's records or late invocations.

1. Backlog: the contender starts on the preloaded topic; the run ends when the function
   has every record, when a contender that commits before delivering has committed the
   end, or at the scenario's time limit. Records/s and invocations/s count everything the
   function received, over the time from the first invocation's arrival (its receipt minus
   the fixed latency L) to the last receipt: start-up, imports and the group join are left
   out, and so is no invocation. (A contender that committed before delivering keeps
   delivering what it had sent after it is stopped, retries included: that counts too.)
   CPU per record is the process's CPU from the first receipt to the end over the records
   received in that time.
2. Live (S1, S2; only for a contender that drained its backlog): records are produced at
   half the rate the bridge reached in this scenario — the same offered load for every
   contender — and end-to-end latency is taken on those, from their timestamp to the
   handler (not where those reach the function in whole seconds: Benthos). A preloaded
   record's age is the backlog's, not a latency.
3. Stop: SIGTERM, and the contender drains as it does in production. Lost = records below
   the group's committed offsets the function never received; duplicates = deliveries
   minus distinct records.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.baselines.client_floor import REPORT_PREFIX as SELF_REPORT_PREFIX
from benchmarks.contenders import Contender
from benchmarks.environment import Environment
from benchmarks.measure import (
    MIB,
    ProcessSample,
    emf_mean,
    latency_distribution,
    per_second,
    percentile,
    sample_process,
)
from benchmarks.receiver import Receiver
from benchmarks.scenarios import Scenario
from consumer.local.broker_process import log_tail, start_broker_process, stop_broker_process

REPO = Path(__file__).resolve().parents[1]
LIVE_LOAD = 0.5  # live records come at this share of the rate the bridge reached
_FIRST_RECEIPT_TIMEOUT_S = 120.0
_LIVE_DRAIN_S = 60.0  # after live records stop coming, time for the contender to deliver them
_STOP_TIMEOUT_S = 120.0  # the bridge drains its buffers; fire-and-forget its retries
_TICK_S = 0.1
_COMMITTED_EVERY_S = 0.5
_RSS_EVERY_S = 1.0


class ContenderFailed(RuntimeError):
    """The contender exited or never delivered; the message ends with its log's tail."""


@dataclass
class RunOptions:
    work_dir: Path
    measured_briefly_s: float  # the window of contenders measured briefly (sequential)
    live_max_rate: float = 20_000.0  # records/s the driver produces live, at most


@dataclass
class RunResult:
    scenario: str
    contender: str
    records: int  # preloaded
    load_s: float  # time to preload them
    drained: bool  # the function had every preloaded record when the window closed
    window_s: float  # first invocation's arrival to the last receipt (or the time limit)
    records_in_window: int  # distinct records the function received in the window
    invocations_in_window: int
    cpu_s_in_window: float  # from the first receipt on
    cpu_records: int  # records received from the first receipt on
    peak_rss_bytes: int
    driver_cpu_cores: float  # this process's CPU over the window: the local Lambda's load
    live_rate: float | None = None
    live_records: int = 0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_max_ms: float | None = None
    # The same latencies at measure.LATENCY_PERCENTILES ({"0": min, ..., "100": max});
    # results written before it have none.
    latency_percentiles_ms: dict[str, float] | None = None
    deliveries: int = 0
    distinct: int = 0
    lost: int | None = 0  # None: the contender delivers nothing (client-floor)
    throttles: int = 0
    throttles_per_s: list[int] = field(default_factory=list)  # from start to backlog delivered
    rss_mib_per_s: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    function_ms_mean: float | None = None  # the local Lambda's time per invocation (L + its own)
    invoke_ms_mean: float | None = None  # the bridge's own InvocationLatency metric (round trip)
    exit_code: int | None = None
    log: str = ""

    @property
    def records_per_s(self) -> float:
        return self.records_in_window / self.window_s if self.window_s > 0 else 0.0

    @property
    def invocations_per_s(self) -> float:
        return self.invocations_in_window / self.window_s if self.window_s > 0 else 0.0

    @property
    def cpu_us_per_record(self) -> float | None:
        if not self.cpu_records:
            return None
        return self.cpu_s_in_window * 1e6 / self.cpu_records

    @property
    def duplicates(self) -> int:
        return self.deliveries - self.distinct

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_bytes / MIB


async def run_contender(
    env: Environment,
    scenario: Scenario,
    contender: Contender,
    options: RunOptions,
    live_rate: float | None = None,
) -> RunResult:
    """Measures one contender; `live_rate` is the live phase's records/s (default: half the
    rate this contender reached)."""
    tag = run_tag(scenario, contender)
    topic = f"bench-{tag}-{uuid.uuid4().hex[:6]}"
    await env.create_topic(topic, scenario.workload.partitions)
    if contender.answers:
        await env.create_topic(answer_topic_of(topic), scenario.workload.partitions)
    loading = time.monotonic()
    schema_id = await env.register_avro(topic) if scenario.avro else None
    ends = await env.load(topic, scenario.workload, scenario.records, schema_id)
    load_s = time.monotonic() - loading
    run = _Run(env, scenario, contender, options, tag, topic, ends)
    try:
        result = await run.measure(live_rate)
    finally:
        await env.delete_topic(topic)  # a million records take a gigabyte of disk
        if contender.answers:
            await env.delete_topic(answer_topic_of(topic))
    result.load_s = load_s
    return result


class _Run:
    def __init__(
        self,
        env: Environment,
        scenario: Scenario,
        contender: Contender,
        options: RunOptions,
        tag: str,
        topic: str,
        ends: dict[int, int],
    ) -> None:
        self.env, self.scenario, self.contender, self.options = env, scenario, contender, options
        self.tag, self.topic, self.group = tag, topic, group_of(topic)
        self.ends = ends  # partition -> end offset of the preloaded records
        self.receiver = Receiver(scenario.per_record_results, scenario.workload)
        self.log_path = options.work_dir / f"{tag}.log"

    async def measure(self, live_rate: float | None) -> RunResult:
        scenario, receiver = self.scenario, self.receiver
        receiver.expect(scenario.deliveries(scenario.records))
        outcomes = self.env.serve(
            self.tag, receiver, scenario.latency_s, scenario.concurrency_limit
        )
        environment = self._environment()
        command = self.contender.command(
            self.scenario, environment, self.options.work_dir / self.tag
        )
        process = _Process(command, self.log_path, environment)
        if self.contender.reports_itself:
            try:
                result = await self._self_reported(process)
            finally:
                exit_code = await process.stop()
            result.exit_code = exit_code
            return result
        try:
            if not await process.watch(receiver.first_receipt.is_set, _FIRST_RECEIPT_TIMEOUT_S):
                raise ContenderFailed(
                    f"{self.contender.name} delivered nothing within "
                    f"{_FIRST_RECEIPT_TIMEOUT_S:.0f} s; its log ({self.log_path}) ends "
                    f"with:\n{log_tail(self.log_path)}"
                )
            result = await self._backlog(process)
            delivered_at = receiver.last_receipt_at
            if scenario.live_s > 0 and result.drained:
                if scenario.live_rate is not None:
                    rate = scenario.live_rate
                elif live_rate is not None:
                    rate = live_rate
                else:
                    rate = LIVE_LOAD * result.records_per_s
                await self._live(process, result, min(self.options.live_max_rate, rate))
        finally:
            exit_code = await process.stop()
        if self.contender.commits_before_delivery and not result.drained:
            # Stopped once it had committed everything; the invokes it had sent went on until
            # it exited, retries included, and what they delivered counts.
            result.records_in_window = len(receiver.seen)
            result.invocations_in_window = receiver.invocations
            result.window_s = receiver.last_receipt_at - self._first_arrival()
            delivered_at = receiver.last_receipt_at
        result.exit_code = exit_code
        committed = await self.env.committed(self.group, self.topic)
        result.lost = self._deliveries_below(committed) - receiver.seen_below(committed)
        result.deliveries, result.distinct = receiver.deliveries, len(receiver.seen)
        result.outcomes = dict(outcomes.counts)
        result.function_ms_mean = outcomes.mean_ok_ms
        with self.log_path.open(errors="replace") as log:
            result.invoke_ms_mean = emf_mean(log, "InvocationLatency")
        result.throttles = len(outcomes.throttled_at)
        result.throttles_per_s = per_second(  # until the backlog was delivered
            outcomes.throttled_at, process.started_at, math.ceil(delivered_at - process.started_at)
        )
        every = round(_RSS_EVERY_S / _TICK_S)
        result.rss_mib_per_s = [round(s.rss_bytes / MIB, 1) for s in process.samples[::every]]
        return result

    async def _backlog(self, process: _Process) -> RunResult:
        """From the first receipt until done or the time limit."""
        receiver = self.receiver
        opened = process.sample()
        seen_at_open = len(receiver.seen)
        driver_cpu_at_open = time.process_time()
        limit_s = self.scenario.max_window_s
        if self.contender.measured_briefly:
            limit_s = min(limit_s, self.options.measured_briefly_s)
        finished = await process.watch(self._done(self.ends), limit_s)
        closed = process.sample()
        driver_cpu_s = time.process_time() - driver_cpu_at_open
        # Done: the last record arrived a tick before it was noticed. Else the limit closed it.
        # Filtering, the stream is done when the commit reaches its end, as it was noticed.
        filters = self.scenario.filters
        window_end = receiver.last_receipt_at if finished and not filters else closed.at_s
        # Filtering, every record of the stream counts (most never reach the function).
        stream = self.scenario.records if finished and filters else len(receiver.seen)
        return RunResult(
            scenario=self.scenario.name,
            contender=self.contender.name,
            records=self.scenario.records,
            load_s=0.0,
            drained=receiver.reached.is_set(),
            window_s=window_end - self._first_arrival(),
            records_in_window=stream,
            invocations_in_window=receiver.invocations,
            cpu_s_in_window=closed.cpu_s - opened.cpu_s,
            cpu_records=stream - seen_at_open,
            peak_rss_bytes=closed.peak_rss_bytes,
            driver_cpu_cores=driver_cpu_s / max(closed.at_s - opened.at_s, 1e-9),
            log=str(self.log_path),
        )

    async def _self_reported(self, process: _Process) -> RunResult:
        """A contender that invokes nothing: its own line says how long it took to read the
        topic and the CPU it spent, from its first fetch on; the process gives the memory."""
        report: dict[str, float] = {}

        def reported() -> bool:
            with self.log_path.open(errors="replace") as log:
                for line in log:
                    if line.startswith(SELF_REPORT_PREFIX):
                        report.update(json.loads(line.removeprefix(SELF_REPORT_PREFIX)))
            return bool(report)

        limit_s = _FIRST_RECEIPT_TIMEOUT_S + self.scenario.max_window_s
        if not await process.watch(reported, limit_s):
            raise ContenderFailed(
                f"{self.contender.name} did not report within {limit_s:.0f} s; its log "
                f"({self.log_path}) ends with:\n{log_tail(self.log_path)}"
            )
        records = int(report["records"])
        return RunResult(
            scenario=self.scenario.name,
            contender=self.contender.name,
            records=self.scenario.records,
            load_s=0.0,
            drained=True,
            window_s=report["seconds"],
            records_in_window=records,
            invocations_in_window=0,
            cpu_s_in_window=report["cpu_s"],
            cpu_records=records,
            peak_rss_bytes=process.samples[-1].peak_rss_bytes,
            driver_cpu_cores=0.0,
            lost=None,  # it delivers nothing by design
            log=str(self.log_path),
        )

    async def _live(self, process: _Process, result: RunResult, rate: float) -> None:
        """Records produced at `rate` per second, and their end-to-end latency."""
        scenario, receiver = self.scenario, self.receiver
        receiver.live_from = dict(self.ends)
        live = await self.env.load_at_rate(
            self.topic,
            scenario.workload,
            scenario.records,
            rate,
            scenario.live_s,
            receiver.produced_ms,
        )
        result.live_rate, result.live_records = rate, sum(live.values())
        receiver.expect(scenario.records + result.live_records)
        await process.watch(self._done({p: self.ends[p] + live[p] for p in live}), _LIVE_DRAIN_S)
        result.peak_rss_bytes = process.samples[-1].peak_rss_bytes
        latencies = receiver.latencies_ms
        result.latency_p50_ms = percentile(latencies, 50)
        result.latency_p99_ms = percentile(latencies, 99)
        result.latency_max_ms = max(latencies, default=None)
        result.latency_percentiles_ms = latency_distribution(latencies)

    def _first_arrival(self) -> float:
        """When the first invocation reached the function: its receipt came L later."""
        return self.receiver.first_receipt_at - self.scenario.latency_s

    def _done(self, ends: dict[int, int]) -> Callable[[], bool]:
        """The function has every record; or, for a contender that commits before
        delivering, its committed offsets reached `ends`: it will deliver nothing more.
        Filtering, the function has every passing record and the commit reached `ends`."""
        reached = self.receiver.reached.is_set
        if self.scenario.filters:
            checker = _CommittedChecker(self.env, self.group, self.topic, ends, every_s=_TICK_S)
            return lambda: reached() and checker.caught_up()
        if not self.contender.commits_before_delivery:
            return reached
        checker = _CommittedChecker(self.env, self.group, self.topic, ends)
        return lambda: reached() or checker.caught_up()

    def _deliveries_below(self, committed: dict[int, int]) -> int:
        """How many records below the committed offsets should have reached the function.
        Record i is at offset i // P of partition i % P (a new topic, keys ≥ records)."""
        if not self.scenario.filters:
            return sum(committed.values())
        partitions = self.scenario.workload.partitions
        return sum(
            1
            for partition, end in committed.items()
            for offset in range(end)
            if self.scenario.passes(offset * partitions + partition)
        )

    def _environment(self) -> dict[str, str]:
        return contender_environment(
            self.env, self.scenario, self.contender, self.options, self.tag, self.topic
        )


def contender_environment(
    env: Environment,
    scenario: Scenario,
    contender: Contender,
    options: RunOptions,
    tag: str,
    topic: str,
) -> dict[str, str]:
    """The contender's whole environment: the bridge's variables, which baselines read. The
    function is named `tag`; the group is the topic's (`<topic>-group`)."""
    python_path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    registry = (
        {"SCHEMA_REGISTRY_URL": env.registry.url}
        if scenario.avro and env.registry is not None
        else {}
    )
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": python_path,
        "AWS_ACCESS_KEY_ID": "benchmark",
        "AWS_SECRET_ACCESS_KEY": "benchmark",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "us-east-1",
        "KAFKA_BOOTSTRAP_SERVERS": env.bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_GROUP_ID": group_of(topic),
        "LAMBDA_FUNCTION_NAME": tag,
        "LAMBDA_ENDPOINT_URL": env.local_lambda.url,
        "HEALTH_FILE": str(options.work_dir / f"{tag}.health"),
        **registry,
        **scenario.bridge_settings,
        **contender.settings,
        **({"RESPONSE_TOPIC": f"kafka://{answer_topic_of(topic)}"} if contender.answers else {}),
    }


def answer_topic_of(topic: str) -> str:
    """Where a run's answers go, with contender `bridge+answers`."""
    return f"{topic}-answers"


def run_tag(scenario: Scenario, contender: Contender) -> str:
    """A run's name in its topic, group and function: Kafka and Lambda take only letters,
    digits and '-' from a contender's name (`bridge+answers`, `bridge@<commit>`)."""
    return f"{scenario.slug}-{re.sub('[^A-Za-z0-9-]', '-', contender.name)}"


def group_of(topic: str) -> str:
    """A run's consumer group: one per topic, so no run commits for another."""
    return f"{topic}-group"


class _Process:
    """A contender's process, sampled (CPU, memory) while it is watched."""

    def __init__(self, command: list[str], log_path: Path, environ: dict[str, str]) -> None:
        self._log_path = log_path
        self.started_at = time.monotonic()
        self._popen = start_broker_process(command, log_path, env=environ)
        self.samples: list[ProcessSample] = []

    def sample(self) -> ProcessSample:
        if self._popen.poll() is not None:
            raise ContenderFailed(
                f"the contender exited with code {self._popen.returncode}; its log "
                f"({self._log_path}) ends with:\n{log_tail(self._log_path)}"
            )
        sample = sample_process(self._popen.pid)
        self.samples.append(sample)
        return sample

    async def watch(self, done: Callable[[], bool], limit_s: float) -> bool:
        """Samples every tick until `done()` (True) or `limit_s` passes (False)."""
        deadline = time.monotonic() + limit_s
        while True:
            self.sample()
            if done():
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(_TICK_S)

    async def stop(self) -> int:
        """SIGTERM, the contender's clean stop; SIGKILL if it takes too long. Its exit code."""
        await asyncio.to_thread(stop_broker_process, self._popen, _STOP_TIMEOUT_S)
        return self._popen.returncode


class _CommittedChecker:
    """Asks for the group's committed offsets now and then, without blocking the caller."""

    def __init__(
        self,
        env: Environment,
        group: str,
        topic: str,
        ends: dict[int, int],
        every_s: float = _COMMITTED_EVERY_S,
    ) -> None:
        self._env, self._group, self._topic, self._ends = env, group, topic, ends
        self._every_s = every_s
        self._asked_at = 0.0
        self._asking: asyncio.Future[dict[int, int]] | None = None
        self._reached = False

    def caught_up(self) -> bool:
        if self._asking is not None and self._asking.done():
            committed = self._asking.result()
            self._reached = all(committed.get(p, 0) >= end for p, end in self._ends.items())
            self._asking = None
        if self._asking is None and time.monotonic() - self._asked_at >= self._every_s:
            self._asked_at = time.monotonic()
            self._asking = asyncio.ensure_future(self._env.committed(self._group, self._topic))
        return self._reached
