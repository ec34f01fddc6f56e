"""What a contender costs, read from /proc, and the arithmetic of the report."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.measure import (
    LATENCY_PERCENTILES,
    cpu_seconds_from_stat,
    emf_mean,
    latency_distribution,
    per_second,
    percentile,
    percentiles,
    sample_process,
    status_bytes,
    throughput_bound,
)

# A /proc/<pid>/stat line whose command name holds a space and a parenthesis.
STAT = (
    "4242 (python -m (x)) S 1 4242 4242 0 -1 4194560 12000 0 3 0 "
    "250 50 0 0 20 0 3 0 123456 300000000 40000 18446744073709551615"
)
STATUS = "Name:\tpython\nVmPeak:\t  400000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\n"


def test_cpu_is_user_plus_system_ticks_counted_after_the_command_name() -> None:
    assert cpu_seconds_from_stat(STAT, ticks_per_s=100) == pytest.approx(3.0)


def test_status_sizes_are_read_in_bytes_and_absent_ones_are_zero() -> None:
    assert status_bytes(STATUS, "VmHWM") == 123456 * 1024
    assert status_bytes(STATUS, "VmRSS") == 100000 * 1024
    assert status_bytes("Name:\tzombie\n", "VmHWM") == 0


def test_a_running_process_is_sampled_and_an_exited_one_is_refused(tmp_path: Path) -> None:
    sample = sample_process(os.getpid())
    assert sample.cpu_s > 0
    assert sample.peak_rss_bytes >= sample.rss_bytes > 0
    with pytest.raises(ProcessLookupError):
        sample_process(4242, proc=tmp_path)


def test_percentiles_interpolate_between_ranks_like_numpy() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile(values, 101)


def test_several_percentiles_are_taken_as_each_alone_would_be() -> None:
    values = [40.0, 10.0, 30.0, 20.0]  # unsorted: sorted once for all
    assert percentiles(values, (0, 50, 100)) == [10.0, 25.0, 40.0]
    assert percentiles(values, (25, 75)) == [percentile(values, 25), percentile(values, 75)]
    assert percentiles([], (50,)) is None
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentiles(values, (50, -1))


def test_a_latency_distribution_spans_min_to_max_keyed_by_the_percentile() -> None:
    latencies_ms = [float(ms) for ms in range(1, 1002)]  # 1..1001 ms: the q-th is 1 + 10 q
    distribution = latency_distribution(latencies_ms)
    assert distribution is not None
    assert list(distribution) == [f"{q:g}" for q in LATENCY_PERCENTILES]
    assert distribution["0"] == 1.0
    assert distribution["50"] == 501.0
    assert distribution["99.9"] == pytest.approx(1000.0)
    assert distribution["100"] == 1001.0
    assert latency_distribution([]) is None


def test_a_latency_distribution_keeps_microseconds_and_no_finer() -> None:
    assert latency_distribution([12.3456789]) == dict.fromkeys(
        (f"{q:g}" for q in LATENCY_PERCENTILES), 12.346
    )


def test_bound_is_partitions_times_in_flight_times_batch_over_latency() -> None:
    assert throughput_bound(20, 2, 10, 0.1) == pytest.approx(4000)
    assert throughput_bound(20, 2, 10, 0.1, in_flight_total=100) == pytest.approx(4000)
    assert throughput_bound(20, 10, 10, 0.1, in_flight_total=100) == pytest.approx(10_000)
    assert throughput_bound(20, 2, 100, 1.0, 40, function_concurrency=10) == pytest.approx(1000)
    with pytest.raises(ValueError, match="latency above 0"):
        throughput_bound(20, 2, 10, 0)


def test_events_are_counted_per_whole_second_after_the_start() -> None:
    assert per_second([100.2, 100.9, 101.0, 103.5, 99.0, 104.0], 100.0, 4) == [2, 1, 0, 1]


def test_emf_mean_pools_every_metrics_line_and_skips_the_log_lines() -> None:
    lines = [
        '{"level": "INFO", "message": "starting"}',
        '{"_aws": {}, "InvocationLatency": {"Sum": 300.0, "Count": 3, "Max": 120}}',
        "not json, but it names InvocationLatency",
        '{"_aws": {}, "InvocationLatency": {"Sum": 100.0, "Count": 1, "Max": 100}}',
    ]
    assert emf_mean(lines, "InvocationLatency") == 100.0
    assert emf_mean(lines, "EndToEndLatency") is None
