"""The results: one table, the targets of issue 8 judged, and the JSON kept in results/.

Everything here is pure (results in, text or dicts out) except `machine()`, which reads
the machine and the commit.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.churn_report import churn_table, churn_targets
from benchmarks.churn_timeline import ChurnFigures
from benchmarks.contenders import BASELINE_PREFIX, BENTHOS, BRIDGE_ANSWERS, BRIDGE_LEGACY
from benchmarks.report_text import Target, aligned
from benchmarks.report_text import number as _number
from benchmarks.run import RunResult
from benchmarks.scenarios import Scenario

MB = 1_000_000  # the targets say MB
CLIENT_FLOOR = "client-floor"  # the contender that is the Kafka client alone
THROTTLE_SETTLE_S = 5  # "throttles fall after the first seconds": compared to these
TARGETS = {
    "S1 bound share": 0.95,
    "CPU vs Benthos": 0.8,  # S1 and S2, native and legacy
    "S2 rate vs Benthos": 1.25,
    "S7 p99 over L ms": 20.0,
    "S2 CPU us/record": 15.0,
    "S2 vs sequential": 20.0,
    "S3 peak RSS MB": 250.0,
    "S3 growth": 0.10,
    "S5 vs S2": 5.0,
    "S5 CPU us/filtered record": 2.0,
    "S6 vs S2 CPU": 2.0,
}


def machine(repo: Path) -> dict[str, Any]:
    """CPU model, cores, load, Python, and the commit the run measured."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    cpuinfo = Path("/proc/cpuinfo").read_text()
    fields = dict(
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in cpuinfo.splitlines())
        if value
    )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": fields.get("model name", platform.processor() or "unknown"),
        "cpu_family": fields.get("cpu family"),
        "cpu_model_number": fields.get("model"),
        "cores": os.cpu_count(),
        "hypervisor": "hypervisor" in fields.get("flags", "").split(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "uncommitted_changes": bool(git("status", "--porcelain")),
    }


def _find(results: Sequence[RunResult], scenario: str, contender: str) -> RunResult | None:
    for result in results:
        if result.scenario == scenario and result.contender == contender:
            return result
    return None


def throttle_rates(result: RunResult) -> tuple[float, float] | None:
    """Throttles per second in the first seconds after the first throttle, and after them
    until the backlog was delivered; None without throttles."""
    per_s = result.throttles_per_s
    first = next((i for i, n in enumerate(per_s) if n), None)
    if first is None:
        return None
    settle = per_s[first : first + THROTTLE_SETTLE_S]
    rest = per_s[first + THROTTLE_SETTLE_S :]
    return sum(settle) / len(settle), (sum(rest) / len(rest) if rest else 0.0)


def filtered_cpu_us(
    filtering: RunResult, scenario: Scenario, unfiltered: RunResult | None
) -> float | None:
    """CPU-µs of one filtered record: the filtering run's CPU, less what its delivered
    records cost at the unfiltered run's rate (S2's), over the records filtered out."""
    if unfiltered is None or unfiltered.cpu_us_per_record is None or not filtering.cpu_records:
        return None
    delivered = scenario.deliveries(filtering.records)
    filtered = filtering.records - delivered
    share = filtering.cpu_records / filtering.records  # of the stream, in the CPU window
    spent_us = filtering.cpu_s_in_window * 1e6 - delivered * share * unfiltered.cpu_us_per_record
    return spent_us / (filtered * share) if filtered else None


def notes(result: RunResult, scenario: Scenario, results: Sequence[RunResult]) -> str:
    said = []
    if result.contender == CLIENT_FLOOR:
        said.append("the Kafka client alone: reads and commits, invokes nothing")
        bridge = _find(results, result.scenario, "bridge")
        if bridge is not None and bridge.cpu_us_per_record and result.cpu_us_per_record:
            share = result.cpu_us_per_record / bridge.cpu_us_per_record
            said.append(f"{share:.0%} of the bridge's CPU per record")
        return "; ".join(said)
    if scenario.membership is not None:  # S8: its own table says the rest
        members = " → ".join(map(str, scenario.membership.members))
        return (
            f"{result.live_records:,} records produced live at {scenario.live_rate:.0f}/s; "
            f"members {members}, {scenario.membership.spacing_s:.0f} s apart; e2e: produced "
            "to the invocation's start; per change: below"
        )
    if scenario.live_rate is not None:  # S7: the latency is the measure
        return (
            f"{result.live_records:,} records produced live at {scenario.live_rate:.0f}/s; "
            f"records/s and CPU: the {result.records:,}-record warm-up"
        )
    if scenario.filters and result.contender.startswith("bridge"):
        unfiltered = _find(results, "S2", result.contender)
        delivered = scenario.deliveries(result.records)
        said.append(
            f"whole stream; {delivered:,} delivered, {result.records - delivered:,} filtered"
        )
        if unfiltered is not None and unfiltered.records_per_s:
            said.append(f"{result.records_per_s / unfiltered.records_per_s:.1f}x S2's rate")
        cpu = filtered_cpu_us(result, scenario, unfiltered)
        if cpu is not None:
            said.append(f"{cpu:.1f} µs per filtered record")
    elif scenario.avro and result.contender.startswith("bridge"):
        said.append("Avro values decoded to JSON")
        unfiltered = _find(results, "S2", result.contender)
        if unfiltered is not None and unfiltered.cpu_us_per_record and result.cpu_us_per_record:
            ratio = result.cpu_us_per_record / unfiltered.cpu_us_per_record
            said.append(f"{ratio:.2f}x S2's CPU per record")
    elif scenario.per_record_results and result.contender == BRIDGE_ANSWERS.name:
        said.append("each record's answer produced to RESPONSE_TOPIC before the commit")
        plain = _find(results, result.scenario, "bridge")
        if plain is not None and plain.cpu_us_per_record and result.cpu_us_per_record:
            extra = result.cpu_us_per_record - plain.cpu_us_per_record
            said.append(f"answers cost {extra:+.1f} CPU-µs per record over the bridge's")
    elif result.contender.startswith("bridge"):
        bound = scenario.bound_records_per_s()
        said.append(f"{result.records_per_s / bound:.0%} of bound {bound:,.0f}/s")
        if result.invoke_ms_mean is not None:
            said.append(f"invoke round trip {result.invoke_ms_mean:.0f} ms")
    bridge = _find(results, result.scenario, "bridge")
    if bridge is not None and result is not bridge and result.records_per_s:
        said.append(f"bridge does {bridge.records_per_s / result.records_per_s:,.1f}x")
    baseline = result.contender.startswith(BASELINE_PREFIX)  # --baseline: what a change costs
    if baseline and bridge is not None and bridge.cpu_us_per_record and result.cpu_us_per_record:
        ratio = bridge.cpu_us_per_record / result.cpu_us_per_record
        said.append(f"bridge's CPU per record {ratio:.2f}x this")
    legacy = _find(results, result.scenario, BRIDGE_LEGACY.name)
    if result.contender == BENTHOS.name and legacy is not None and result.records_per_s:
        # the same payload: the like-for-like ratio
        said.append(f"bridge-legacy does {legacy.records_per_s / result.records_per_s:,.1f}x")
    if not result.drained and result.contender != "fire-and-forget":
        said.append(
            f"{result.records_in_window:,} of {result.records:,} in {result.window_s:.0f} s"
        )
    if result.throttles:
        rates = throttle_rates(result)
        if rates is not None:
            said.append(f"throttles/s {rates[0]:.1f} → {rates[1]:.1f}")
    if result.driver_cpu_cores > 0.9:
        said.append(f"local Lambda busy ({result.driver_cpu_cores:.0%} of a core)")
    return "; ".join(said)


def table(results: Sequence[RunResult], scenarios: Sequence[Scenario]) -> str:
    """The Markdown table of every run."""
    by_name = {s.name: s for s in scenarios}
    header = (
        "scenario",
        "contender",
        "records/s",
        "invocations/s",
        "e2e p50 ms",
        "e2e p99 ms",
        "CPU µs/record",
        "peak RSS MB",
        "lost",
        "duplicates",
        "throttles",
        "notes",
    )
    rows = [header]
    for r in results:
        rows.append(
            (
                r.scenario,
                r.contender,
                _number(r.records_per_s),
                _number(r.invocations_per_s),
                _number(r.latency_p50_ms),
                _number(r.latency_p99_ms),
                _number(r.cpu_us_per_record, 1),
                _number(r.peak_rss_bytes / MB),
                _number(r.lost),
                _number(r.duplicates),
                _number(r.throttles),
                notes(r, by_name[r.scenario], results),
            )
        )
    return aligned(rows)


def targets(results: Sequence[RunResult], scenarios: Sequence[Scenario]) -> list[Target]:
    """Issue 8's targets for the bridge, judged on this run's numbers."""
    by_name = {s.name: s for s in scenarios}
    judged: list[Target] = []

    s1 = _find(results, "S1", "bridge")
    if s1 is not None:
        bound = by_name["S1"].bound_records_per_s()
        share = s1.records_per_s / bound
        evidence = f"{s1.records_per_s:,.0f} records/s of {bound:,.0f} = {share:.1%}"
        if s1.invoke_ms_mean is not None:
            # The bound counts L per invocation; an invoke took L plus the round trip.
            ceiling = by_name["S1"].latency_s * 1000 / s1.invoke_ms_mean
            evidence += (
                f"; an invoke took {s1.invoke_ms_mean:.1f} ms for L = "
                f"{by_name['S1'].latency_s * 1000:.0f} ms (the function's side "
                f"{_number(s1.function_ms_mean, 1)} ms), so {ceiling:.1%} is the most any "
                "dispatcher could reach here"
            )
        judged.append(
            Target("S1: ≥ 95 % of the bound P·W·B/L", share >= TARGETS["S1 bound share"], evidence)
        )
    judged.extend(_against_benthos(results))
    s2 = _find(results, "S2", "bridge")
    if s2 is not None:
        cpu = s2.cpu_us_per_record
        judged.append(
            Target(
                "S2: ≤ 15 CPU-µs per record in the bridge process",
                cpu is not None and cpu <= TARGETS["S2 CPU us/record"],
                f"{_number(cpu, 1)} µs/record ({s2.cpu_s_in_window:.2f} CPU-s for "
                f"{s2.cpu_records:,} records)",
            )
        )
        sequential = _find(results, "S2", "sequential")
        if sequential is not None and sequential.records_per_s:
            ratio = s2.records_per_s / sequential.records_per_s
            judged.append(
                Target(
                    "S2: ≥ 20x the sequential baseline's records/s",
                    ratio >= TARGETS["S2 vs sequential"],
                    f"{s2.records_per_s:,.0f} / {sequential.records_per_s:,.1f} = {ratio:,.0f}x",
                )
            )
    s5 = _find(results, "S5", "bridge")
    if s5 is not None and s2 is not None and s2.records_per_s:
        # What the Kafka client alone reached here: no bridge on it can do better.
        floor = _find(results, "S5", CLIENT_FLOOR)
        ratio = s5.records_per_s / s2.records_per_s
        evidence = f"{s5.records_per_s:,.0f} / {s2.records_per_s:,.0f} = {ratio:.1f}x"
        if floor is not None:
            evidence += (
                f"; the client alone read {floor.records_per_s:,.0f}/s = "
                f"{floor.records_per_s / s2.records_per_s:.1f}x"
            )
        judged.append(
            Target(
                "S5: the whole filtered stream at ≥ 5x S2's records/s",
                ratio >= TARGETS["S5 vs S2"],
                evidence,
            )
        )
        cpu = filtered_cpu_us(s5, by_name["S5"], s2)
        evidence = (
            f"{_number(cpu, 2)} µs: S5's {s5.cpu_s_in_window:.2f} CPU-s less its "
            f"delivered records at S2's {_number(s2.cpu_us_per_record, 1)} µs each"
        )
        if floor is not None:
            evidence += f"; the client alone: {_number(floor.cpu_us_per_record, 2)} µs/record"
        judged.append(
            Target(
                "S5: ≤ 2 CPU-µs per filtered record",
                None if cpu is None else cpu <= TARGETS["S5 CPU us/filtered record"],
                evidence,
            )
        )
    s6 = _find(results, "S6", "bridge")
    if s6 is not None and s2 is not None and s2.cpu_us_per_record and s6.cpu_us_per_record:
        ratio = s6.cpu_us_per_record / s2.cpu_us_per_record
        judged.append(
            Target(
                "S6: ≤ 2x S2's CPU-µs per record with Avro values decoded to JSON",
                ratio <= TARGETS["S6 vs S2 CPU"],
                f"{s6.cpu_us_per_record:.1f} / {s2.cpu_us_per_record:.1f} µs = {ratio:.2f}x",
            )
        )
    backlog = sorted(
        (r for r in results if r.scenario.startswith("S3/") and r.contender == "bridge"),
        key=lambda r: r.records,
    )
    if backlog:
        peak = max(r.peak_rss_bytes for r in backlog) / MB
        judged.append(
            Target(
                "S3: peak RSS ≤ 250 MB",
                peak <= TARGETS["S3 peak RSS MB"],
                ", ".join(f"{r.records:,} → {r.peak_rss_bytes / MB:.0f} MB" for r in backlog),
            )
        )
    if len(backlog) >= 2:
        small, large = backlog[0], backlog[-1]
        growth = large.peak_rss_bytes / small.peak_rss_bytes - 1
        judged.append(
            Target(
                f"S3: the {large.records:,} backlog within 10 % of the {small.records:,} one",
                abs(growth) <= TARGETS["S3 growth"],
                f"{growth:+.1%}",
            )
        )
    s4 = _find(results, "S4", "bridge")
    if s4 is not None:
        baseline = _find(results, "S4", "fire-and-forget")
        lost_there = "" if baseline is None else f" (fire-and-forget lost {baseline.lost:,})"
        judged.append(
            Target("S4: zero records lost", s4.lost == 0, f"bridge lost {s4.lost:,}{lost_there}")
        )
        benthos = _find(results, "S4", BENTHOS.name)
        there = "" if benthos is None else f" (Benthos: {benthos.duplicates:,})"
        judged.append(
            Target("S4: zero duplicates", s4.duplicates == 0, f"bridge {s4.duplicates:,}{there}")
        )
        rates = throttle_rates(s4)
        judged.append(
            Target(
                "S4: throttles fall after the first seconds (adaptive concurrency)",
                None if rates is None else rates[1] <= rates[0] / 2,
                "no throttles"
                if rates is None
                else f"{rates[0]:.1f}/s in the first {THROTTLE_SETTLE_S} s, {rates[1]:.1f}/s "
                f"after ({s4.throttles:,} of {sum(s4.outcomes.values()):,} invocations)",
            )
        )
    s7 = _find(results, "S7", "bridge")
    if s7 is not None:
        limit_ms = by_name["S7"].latency_s * 1000 + TARGETS["S7 p99 over L ms"]
        benthos = _find(results, "S7", BENTHOS.name)
        evidence = (
            f"p50 {_number(s7.latency_p50_ms)} ms, p99 {_number(s7.latency_p99_ms)} ms of "
            f"{s7.live_records:,} records"
        )
        if benthos is not None:
            evidence += (
                f" (Benthos: p50 {_number(benthos.latency_p50_ms)} ms, "
                f"p99 {_number(benthos.latency_p99_ms)} ms)"
            )
        judged.append(
            Target(
                f"S7: end-to-end p99 ≤ L + 20 ms = {limit_ms:.0f} ms",
                None if s7.latency_p99_ms is None else s7.latency_p99_ms <= limit_ms,
                evidence,
            )
        )
    return judged


def _against_benthos(results: Sequence[RunResult]) -> list[Target]:
    """Issue 15's: cheaper than Benthos per record in S1 and S2 in both payload formats, and
    faster in S2 (like against like: Benthos sends the legacy payload)."""
    judged = []
    bound = TARGETS["CPU vs Benthos"]
    for scenario in ("S1", "S2"):
        benthos = _find(results, scenario, BENTHOS.name)
        if benthos is None or not benthos.cpu_us_per_record:
            continue
        for name in ("bridge", BRIDGE_LEGACY.name):
            bridge = _find(results, scenario, name)
            if bridge is None or bridge.cpu_us_per_record is None:
                continue
            ratio = bridge.cpu_us_per_record / benthos.cpu_us_per_record
            judged.append(
                Target(
                    f"{scenario}: {name}'s CPU-µs per record ≤ {bound}x Benthos's",
                    ratio <= bound,
                    f"{bridge.cpu_us_per_record:.1f} / {benthos.cpu_us_per_record:.1f} µs "
                    f"= {ratio:.2f}x",
                )
            )
    s2, benthos = _find(results, "S2", "bridge"), _find(results, "S2", BENTHOS.name)
    if s2 is not None and benthos is not None and benthos.records_per_s:
        ratio = s2.records_per_s / benthos.records_per_s
        judged.append(
            Target(
                f"S2: ≥ {TARGETS['S2 rate vs Benthos']}x Benthos's records/s",
                ratio >= TARGETS["S2 rate vs Benthos"],
                f"{s2.records_per_s:,.0f} / {benthos.records_per_s:,.0f} = {ratio:.2f}x",
            )
        )
    return judged


def render(
    results: Sequence[RunResult],
    scenarios: Sequence[Scenario],
    about: dict[str, Any],
    churns: Sequence[ChurnFigures] = (),
) -> str:
    lines = [
        f"kafka-to-lambda benchmarks, {about['date']}, commit {about['commit']}"
        + (" (with uncommitted changes)" if about["uncommitted_changes"] else ""),
        f"{about['cpu_model']} ({about['cores']} cores"
        + (", virtual machine" if about["hypervisor"] else "")
        + f"), Python {about['python']}, load average {about['load_average'][0]:.2f} at start"
        + (
            f", {about['load_average_at_end'][0]:.2f} at end"
            if "load_average_at_end" in about
            else ""
        ),
        "",
        table(results, scenarios),
    ]
    if churns:
        near = churns[0].near_s
        lines += [
            "",
            "S8, membership changes: each change's window runs to the next change; stops are "
            "times between invocation starts; e2e p99 near: records produced within "
            f"{near:.0f} s after the change (how many); in flight: records in invocations "
            "running at the change",
            "",
            churn_table(churns),
        ]
    lines += ["", "Targets (the bridge, this run):"]
    for target in [*targets(results, scenarios), *churn_targets(churns)]:
        mark = {True: "met   ", False: "MISSED", None: "n/a   "}[target.met]
        lines.append(f"  [{mark}] {target.name}: {target.evidence}")
    return "\n".join(lines)


def document(
    results: Sequence[RunResult],
    scenarios: Sequence[Scenario],
    about: dict[str, Any],
    text: str,
    churns: Sequence[ChurnFigures] = (),
) -> dict[str, Any]:
    """Everything the run measured, for results/<date>-<commit>.json."""
    return {
        "machine": about,
        "scenarios": [
            {
                "name": s.name,
                "title": s.title,
                "partitions": s.workload.partitions,
                "record_bytes": s.workload.record_bytes,
                "keys": s.workload.keys,
                "records": s.records,
                "latency_s": s.latency_s,
                "function_concurrency_limit": s.concurrency_limit,
                "bridge_settings": dict(s.bridge_settings),
                "bound_records_per_s": s.bound_records_per_s(),
                "max_window_s": s.max_window_s,
                "live_s": s.live_s,
                "live_rate": s.live_rate,
                "membership": None if s.membership is None else asdict(s.membership),
            }
            for s in scenarios
        ],
        "results": [
            {
                **asdict(r),
                "records_per_s": r.records_per_s,
                "invocations_per_s": r.invocations_per_s,
                "cpu_us_per_record": r.cpu_us_per_record,
                "duplicates": r.duplicates,
            }
            for r in results
        ],
        "membership_changes": [asdict(f) for f in churns],
        "targets": [asdict(t) for t in [*targets(results, scenarios), *churn_targets(churns)]],
        "table": text,
    }


def write_json(
    directory: Path, about: dict[str, Any], payload: dict[str, Any], *, complete: bool = True
) -> Path:
    """`<date>-<commit>.json` for a complete run (every scenario at its default size): the
    file to commit. Any other run writes `<date>-<commit>-partial.tmp`, which git ignores."""
    name = f"{about['date'][:10]}-{about['commit']}"
    path = directory / (f"{name}.json" if complete else f"{name}-partial.tmp")
    writing = directory / f"{name}.writing.tmp"
    writing.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    writing.replace(path)
    return path
