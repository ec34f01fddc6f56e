"""What a contender process costs, read from /proc; and the arithmetic of the report.

CPU is user + system time of the whole process (all its threads) from /proc/<pid>/stat, in
clock ticks (10 ms on Linux); peak RSS is the kernel's own high-water mark, VmHWM in
/proc/<pid>/status. Both are the contender's alone: every contender is its own process.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


@dataclass(frozen=True)
class ProcessSample:
    """One look at a process: when, how much CPU it had used, its memory now and at peak."""

    at_s: float  # time.monotonic()
    cpu_s: float  # user + system, all threads, since the process started
    rss_bytes: int
    peak_rss_bytes: int


def cpu_seconds_from_stat(stat: str, ticks_per_s: int = CLOCK_TICKS_PER_S) -> float:
    """utime + stime of a /proc/<pid>/stat line, in seconds.

    The command name (field 2) is in parentheses and may hold spaces or parentheses itself,
    so fields are counted from the last ")": state is field 3, utime 14, stime 15.
    """
    fields = stat.rsplit(")", 1)[1].split()
    utime_ticks, stime_ticks = int(fields[14 - 3]), int(fields[15 - 3])
    return (utime_ticks + stime_ticks) / ticks_per_s


def status_bytes(status: str, name: str) -> int:
    """A `Name:   1234 kB` line of /proc/<pid>/status, in bytes (0 when absent, as for a
    process that has exited and left only its zombie)."""
    for line in status.splitlines():
        if line.startswith(name + ":"):
            value, unit = line.split()[1:3]
            if unit != "kB":
                raise ValueError(f"/proc status {name} is in {unit!r}, expected kB")
            return int(value) * 1024
    return 0


def sample_process(pid: int, proc: Path = Path("/proc")) -> ProcessSample:
    """CPU and memory of a running process; raises ProcessLookupError once it is gone."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
        status = (proc / str(pid) / "status").read_text()
    except FileNotFoundError:
        raise ProcessLookupError(f"process {pid} has exited") from None
    return ProcessSample(
        at_s=time.monotonic(),
        cpu_s=cpu_seconds_from_stat(stat),
        rss_bytes=status_bytes(status, "VmRSS"),
        peak_rss_bytes=status_bytes(status, "VmHWM"),
    )


# The latency distribution a result keeps (`latency_percentiles_ms`): fine in the tail, where
# contenders part, and enough in the middle to draw the curve.
LATENCY_PERCENTILES = (0, 1, 5, 10, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.9, 100)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks (numpy's
    default); None for no values."""
    found = percentiles(values, (q,))
    return None if found is None else found[0]


def percentiles(values: Sequence[float], qs: Sequence[float]) -> list[float] | None:
    """Each q-th percentile of `qs`, as `percentile` takes it, sorting the values once; None
    for no values."""
    for q in qs:
        if not 0 <= q <= 100:
            raise ValueError(f"a percentile is between 0 and 100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    taken = []
    for q in qs:
        rank = (len(ordered) - 1) * q / 100
        low = math.floor(rank)
        high = min(low + 1, len(ordered) - 1)
        taken.append(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))
    return taken


def latency_distribution(latencies_ms: Sequence[float]) -> dict[str, float] | None:
    """The latencies at LATENCY_PERCENTILES, as the results JSON keeps them: keyed by the
    percentile written shortest ("0", "99.9", "100"), in ms to the microsecond; None for no
    latencies."""
    found = percentiles(latencies_ms, LATENCY_PERCENTILES)
    if found is None:
        return None
    return {f"{q:g}": round(ms, 3) for q, ms in zip(LATENCY_PERCENTILES, found, strict=True)}


def throughput_bound(
    partitions: int,
    in_flight_per_partition: int,
    batch_size: int,
    latency_s: float,
    in_flight_total: int | None = None,
    function_concurrency: int | None = None,
) -> float:
    """Records/s no bridge with these settings can beat: P·W·B/L, where P·W (invocations in
    flight) is capped by the total in-flight limit and by the function's concurrency."""
    if latency_s <= 0:
        raise ValueError(f"the bound needs a latency above 0, got {latency_s}")
    in_flight = partitions * in_flight_per_partition
    for cap in (in_flight_total, function_concurrency):
        if cap is not None:
            in_flight = min(in_flight, cap)
    return in_flight * batch_size / latency_s


def per_second(timestamps_s: Sequence[float], start_s: float, seconds: int) -> list[int]:
    """Counts of events in each whole second after `start_s`, for `seconds` seconds."""
    counts = [0] * seconds
    for at in timestamps_s:
        index = math.floor(at - start_s)
        if 0 <= index < seconds:
            counts[index] += 1
    return counts


def emf_mean(lines: Iterable[str], metric: str) -> float | None:
    """The mean of an EMF histogram metric over the metric lines of a bridge's output (its
    other lines are skipped); None when no line has it."""
    total = count = 0.0
    for line in lines:
        if f'"{metric}"' not in line:
            continue
        try:
            histogram = json.loads(line).get(metric)
        except ValueError:
            continue
        if isinstance(histogram, dict):
            total += histogram["Sum"]
            count += histogram["Count"]
    return total / count if count else None
