"""The table, the targets judged on a run's numbers, and the JSON document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.report import document, render, table, targets, throttle_rates, write_json
from benchmarks.run import RunResult
from benchmarks.scenarios import QUICK, Scenario, scenarios

ABOUT = {
    "date": "2026-11-28T10:00:00+00:00",
    "cpu_model": "AMD EPYC",
    "cores": 2,
    "hypervisor": True,
    "load_average": [0.5, 0.6, 0.7],
    "python": "3.11.7",
    "commit": "abc1234",
    "uncommitted_changes": False,
}


def result(scenario: str, contender: str, **overrides: Any) -> RunResult:
    fields: dict[str, Any] = {
        "scenario": scenario,
        "contender": contender,
        "records": 10_000,
        "load_s": 1.0,
        "drained": True,
        "window_s": 10.0,
        "records_in_window": 10_000,
        "invocations_in_window": 1_000,
        "cpu_s_in_window": 0.1,
        "cpu_records": 10_000,
        "peak_rss_bytes": 150_000_000,
        "driver_cpu_cores": 0.2,
        **overrides,
    }
    return RunResult(**fields)


def all_scenarios() -> list[Scenario]:
    return scenarios(("S1", "S2", "S3", "S4"), QUICK)


def test_s1_is_judged_against_ninety_five_percent_of_the_bound() -> None:
    # S1's bound with batchSize 10, 2 in flight, 20 partitions, L = 100 ms: 4 000 records/s.
    met = targets([result("S1", "bridge", records_in_window=38_100)], all_scenarios())
    assert [(t.met, t.evidence) for t in met] == [(True, "3,810 records/s of 4,000 = 95.2%")]
    missed = targets([result("S1", "bridge", records_in_window=37_900)], all_scenarios())
    assert missed[0].met is False


def test_s2_needs_low_cpu_per_record_and_twenty_times_the_sequential_rate() -> None:
    results = [
        result("S2", "bridge", records_in_window=500_000, cpu_records=500_000, cpu_s_in_window=7.0),
        result("S2", "sequential", records_in_window=1_000, drained=False),
    ]
    met = {t.name: t.met for t in targets(results, all_scenarios())}
    assert met == {
        "S2: ≤ 15 CPU-µs per record in the bridge process": True,
        "S2: ≥ 20x the sequential baseline's records/s": True,
    }
    results[0] = result("S2", "bridge", records_in_window=10_000, cpu_s_in_window=0.2)
    met = {t.name: t.met for t in targets(results, all_scenarios())}
    assert set(met.values()) == {False}


def test_s3_compares_peak_memory_of_the_large_backlog_to_the_small_one() -> None:
    small = result("S3/20000", "bridge", records=20_000, peak_rss_bytes=200_000_000)
    large = result("S3/200000", "bridge", records=200_000, peak_rss_bytes=215_000_000)
    verdicts = targets([small, large], all_scenarios())
    assert [t.met for t in verdicts] == [True, True]
    assert verdicts[1].evidence == "+7.5%"
    larger = result("S3/200000", "bridge", records=200_000, peak_rss_bytes=260_000_000)
    assert [t.met for t in targets([small, larger], all_scenarios())] == [False, False]


def test_s4_needs_no_loss_and_throttles_that_fall() -> None:
    falling = [0, 9, 6, 4, 3, 2, 1, 0, 1, 0, 0, 1, 0, 0]
    results = [
        result("S4", "bridge", throttles=27, throttles_per_s=falling, outcomes={"ok": 200}),
        result("S4", "fire-and-forget", lost=1_500),
    ]
    verdicts = targets(results, all_scenarios())
    assert [t.met for t in verdicts] == [True, True, True]
    assert "fire-and-forget lost 1,500" in verdicts[0].evidence
    steady = [0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
    results[0] = result(
        "S4", "bridge", lost=2, throttles=30, throttles_per_s=steady, records_in_window=10_000
    )
    results[0].deliveries, results[0].distinct = 10_300, 10_000
    assert [t.met for t in targets(results, all_scenarios())] == [False, False, False]


def test_s5_is_judged_with_what_the_kafka_client_alone_reached_beside_it() -> None:
    made = scenarios(("S2", "S5"), QUICK)
    results = [
        result("S2", "bridge", window_s=10.0, cpu_s_in_window=0.1),  # 1,000/s, 10 µs
        # 1,000 of the 10,000 pass: 0.05 CPU-s less 1,000 records at 10 µs over 9,000 filtered
        result("S5", "bridge", window_s=4.0, cpu_s_in_window=0.05),
        result("S5", "client-floor", window_s=2.0, cpu_s_in_window=0.03, lost=None),
    ]
    judged = {t.name: t for t in targets(results, made)}
    ratio = judged["S5: the whole filtered stream at ≥ 5x S2's records/s"]
    assert ratio.met is False
    assert ratio.evidence == "2,500 / 1,000 = 2.5x; the client alone read 5,000/s = 5.0x"
    cpu = judged["S5: ≤ 2 CPU-µs per filtered record"]
    assert cpu.met is False
    assert cpu.evidence.startswith("4.44 µs: S5's 0.05 CPU-s")
    assert cpu.evidence.endswith("; the client alone: 3.00 µs/record")
    floor_row = table(results, made).splitlines()[-1]
    assert "the Kafka client alone: reads and commits, invokes nothing" in floor_row
    assert "60% of the bridge's CPU per record" in floor_row  # 3 µs of S5's 5 µs
    assert floor_row.split("|")[9].strip() == "—"  # lost: it delivers nothing


def test_s6_is_judged_by_its_cpu_per_record_against_s2s() -> None:
    made = scenarios(("S2", "S6"), QUICK)
    results = [
        result("S2", "bridge", cpu_s_in_window=0.1),  # 10 µs per record
        result("S6", "bridge", cpu_s_in_window=0.15),  # 15 µs per record
    ]
    judged = {t.name: t for t in targets(results, made)}
    six = judged["S6: ≤ 2x S2's CPU-µs per record with Avro values decoded to JSON"]
    assert six.met is True
    assert six.evidence == "15.0 / 10.0 µs = 1.50x"
    assert "Avro values decoded to JSON; 1.50x S2's CPU per record" in table(results, made)
    slow = [results[0], result("S6", "bridge", cpu_s_in_window=0.25)]
    assert {t.name: t for t in targets(slow, made)}[six.name].met is False


def test_throttle_rates_compare_the_first_seconds_after_the_first_throttle_to_the_rest() -> None:
    run = result("S4", "bridge", throttles_per_s=[0, 0, 10, 5, 5, 0, 0, 2, 0, 0, 0])
    assert throttle_rates(run) == (4.0, 0.5)
    assert throttle_rates(result("S4", "bridge", throttles_per_s=[0, 0])) is None


def test_the_table_has_a_row_per_run_with_ratios_in_its_notes() -> None:
    results = [
        result("S1", "bridge", records_in_window=38_000),
        result("S1", "sequential", records_in_window=95, drained=False, window_s=15.0),
    ]
    lines = table(results, all_scenarios()).splitlines()
    assert len(lines) == 4
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines)
    assert len({len(line) for line in lines}) == 1  # aligned columns
    assert "95% of bound 4,000/s" in lines[2]
    assert "bridge does 600.0x" in lines[3]
    assert "95 of 10,000 in 15 s" in lines[3]


def test_the_report_names_the_machine_and_marks_each_target() -> None:
    text = render([result("S1", "bridge", records_in_window=20_000)], all_scenarios(), ABOUT)
    first = "kafka-to-lambda benchmarks, 2026-11-28T10:00:00+00:00, commit abc1234"
    assert text.splitlines()[0] == first
    assert "AMD EPYC (2 cores, virtual machine)" in text
    assert "[MISSED] S1" in text


def test_the_json_holds_the_machine_settings_and_every_number(tmp_path: Path) -> None:
    distribution = {"0": 101.5, "50": 130.0, "100": 190.25}
    results = [
        result("S1", "bridge", records_in_window=38_000, latency_percentiles_ms=distribution)
    ]
    chosen = all_scenarios()
    payload = document(results, chosen, ABOUT, "the table")
    path = write_json(tmp_path, ABOUT, payload)
    assert path.name == "2026-11-28-abc1234.json"
    assert list(tmp_path.iterdir()) == [path]
    partial = write_json(tmp_path, ABOUT, payload, complete=False)
    assert partial.name == "2026-11-28-abc1234-partial.tmp"  # git ignores *.tmp there
    kept = json.loads(path.read_text())
    assert kept["machine"]["cpu_model"] == "AMD EPYC"
    s1 = next(s for s in kept["scenarios"] if s["name"] == "S1")
    assert s1["bound_records_per_s"] == 4000
    assert s1["bridge_settings"] == {"BATCH_SIZE": "10", "MAX_IN_FLIGHT_PER_PARTITION": "2"}
    assert kept["results"][0]["records_per_s"] == 3800
    assert kept["results"][0]["latency_percentiles_ms"] == distribution
    assert kept["targets"][0]["met"] is True


def test_benthos_is_compared_to_both_bridges() -> None:
    results = [
        result("S1", "bridge", records_in_window=36_000),
        result("S1", "bridge-legacy", records_in_window=30_000),
        result("S1", "benthos", records_in_window=20_000, live_records=1_000),
    ]
    lines = table(results, all_scenarios()).splitlines()
    assert "90% of bound 4,000/s" in lines[2]
    assert "75% of bound 4,000/s; bridge does 1.2x" in lines[3]
    assert "bridge does 1.8x; bridge-legacy does 1.5x" in lines[4]


def test_both_bridges_must_spend_at_most_four_fifths_of_benthos_cpu_and_outrun_it_in_s2() -> None:
    # CPU µs/record = cpu_s_in_window / cpu_records: Benthos 10 µs in S1 and S2
    results = [
        result("S1", "bridge", records_in_window=38_500, cpu_s_in_window=0.079),
        result("S1", "bridge-legacy", records_in_window=38_500, cpu_s_in_window=0.081),
        result("S1", "benthos", cpu_s_in_window=0.1),
        result("S2", "bridge", records_in_window=12_500, cpu_s_in_window=0.05),
        result("S2", "bridge-legacy", cpu_s_in_window=0.08),
        result("S2", "benthos", cpu_s_in_window=0.1),
    ]
    verdicts = {t.name: t.met for t in targets(results, all_scenarios())}
    assert verdicts == {
        "S1: ≥ 95 % of the bound P·W·B/L": True,
        "S1: bridge's CPU-µs per record ≤ 0.8x Benthos's": True,
        "S1: bridge-legacy's CPU-µs per record ≤ 0.8x Benthos's": False,
        "S2: bridge's CPU-µs per record ≤ 0.8x Benthos's": True,
        "S2: bridge-legacy's CPU-µs per record ≤ 0.8x Benthos's": True,
        "S2: ≥ 1.25x Benthos's records/s": True,
        "S2: ≤ 15 CPU-µs per record in the bridge process": True,
    }
    results[3] = result("S2", "bridge", records_in_window=12_000, cpu_s_in_window=0.05)
    verdicts = {t.name: t.met for t in targets(results, all_scenarios())}
    assert verdicts["S2: ≥ 1.25x Benthos's records/s"] is False


def test_s7_judges_the_bridge_s_p99_against_l_plus_twenty_ms() -> None:
    made = scenarios(("S7",), QUICK)
    assert made[0].live_rate == 100.0
    assert made[0].contenders == ("bridge", "bridge-legacy", "benthos", "benthos-defaults")
    results = [
        result("S7", "bridge", live_records=2_000, latency_p50_ms=14.0, latency_p99_ms=29.5),
        result("S7", "benthos", live_records=2_000, latency_p50_ms=120.0, latency_p99_ms=400.0),
    ]
    [verdict] = targets(results, made)
    assert verdict.name == "S7: end-to-end p99 ≤ L + 20 ms = 30 ms"
    assert verdict.met is True
    assert "Benthos: p50 120 ms, p99 400 ms" in verdict.evidence
    results[0].latency_p99_ms = 31.0
    assert targets(results, made)[0].met is False
    assert "produced live at 100/s" in table(results, made).splitlines()[2]
