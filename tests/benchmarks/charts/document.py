"""A small results document, as benchmarks/results/*.json holds them, for the chart tests."""

from __future__ import annotations

from typing import Any

DISTRIBUTION = {"100": 40.0, "0": 11.0, "50": 20.0, "99.9": 39.0, "99": 30.0}  # keys unordered


def row(scenario: str, contender: str, **fields: Any) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "contender": contender,
        "records_per_s": None,
        "cpu_us_per_record": None,
        "latency_p50_ms": None,
        "latency_p99_ms": None,
        "latency_max_ms": None,
        **fields,
    }


def scenario(name: str, title: str, live_rate: float | None = None) -> dict[str, Any]:
    return {"name": name, "title": title, "latency_s": 0.01, "live_rate": live_rate}


def document() -> dict[str, Any]:
    return {
        "machine": {"date": "2026-12-08T10:00:00+00:00", "commit": "abc1234", "cores": 2},
        "scenarios": [
            scenario("S2", "CPU-bound: L = 5 ms"),
            scenario("S3/1000000", "backlog memory: 1,000,000 queued"),
            scenario("S3/100000", "backlog memory: 100,000 queued"),
            scenario("S7", "light load: 100 records/s", live_rate=100.0),
            scenario("S8", "membership changes: 1 → 2 → 1", live_rate=110.0),
        ],
        "results": [
            row("S3/1000000", "bridge", records_per_s=3_800.0, cpu_us_per_record=29.0),
            row("S2", "bridge", records_per_s=50_000.0, cpu_us_per_record=16.0),
            row("S2", "sequential", records_per_s=75.0, cpu_us_per_record=990.0),
            row("S2", "client-floor", records_per_s=199_000.0),  # no CPU: it reports records/s
            row("S3/100000", "bridge", records_per_s=3_900.0, cpu_us_per_record=27.0),
            # S7's records/s is its warm-up's: not a speed to chart
            row("S7", "bridge", records_per_s=11_000.0, latency_percentiles_ms=DISTRIBUTION),
            row("S7", "benthos", latency_p50_ms=66.0, latency_p99_ms=117.0, latency_max_ms=123.0),
            row("S8", "bridge", records_per_s=108.0, latency_p50_ms=1216.0, latency_p99_ms=3766.0),
        ],
        "membership_changes": [
            {
                "scenario": "S8",
                "contender": "bridge",
                "changes": [
                    {"label": "join 1 → 2", "p99_near_ms": 3600.0},
                    {"label": "leave 2 → 1", "p99_near_ms": None},
                ],
                "p99_rest_ms": 3800.0,
                "near_s": 10.0,
            }
        ],
    }
