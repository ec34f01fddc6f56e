"""The scenarios: the bridge's effective settings and the bound they give."""

from __future__ import annotations

from benchmarks.scenarios import QUICK, Sizes, scenarios, with_records


def test_bounds_come_from_the_bridges_own_defaults_and_the_scenarios_settings() -> None:
    made = {s.name: s for s in scenarios(("S1", "S2", "S3", "S4"), Sizes())}
    assert made["S1"].bound_records_per_s() == 20 * 2 * 10 / 0.1
    assert made["S2"].bound_records_per_s() == 20 * 2 * 500 / 0.005
    assert made["S3/1000000"].bound_records_per_s() == 20 * 2 * 100 / 1.0
    # 40 in flight, but the function takes 10 at once
    assert made["S4"].bound_records_per_s() == 10 * 100 / 1.0
    assert made["S4"].bridge().max_in_flight_total == 40


def test_every_contender_runs_s1_and_s2_benthos_runs_s4_and_s3_is_the_bridge_twice() -> None:
    made = scenarios(("S1", "S2", "S3", "S4", "S5", "S6"), QUICK, uvloop=True)
    names = [(s.name, s.contenders) for s in made]
    peers = ("bridge-legacy", "benthos")  # Benthos sends the legacy payload; so does one bridge
    everyone = ("bridge", "bridge+uvloop", *peers, "sequential", "fire-and-forget")
    assert names == [
        ("S1", everyone),
        ("S2", (*everyone, "client-floor")),
        ("S5", ("bridge", "bridge+uvloop", "client-floor")),
        ("S6", ("bridge", "bridge+uvloop")),
        ("S3/20000", ("bridge",)),
        ("S3/200000", ("bridge",)),
        ("S4", ("bridge", *peers, "fire-and-forget")),
    ]


def test_records_resize_every_scenario_but_the_backlog_one() -> None:
    made = [with_records(s, 1234) for s in scenarios(("S1", "S3"), QUICK)]
    assert [s.records for s in made] == [1234, 20_000, 200_000]


def test_the_avro_scenario_is_s2_with_avro_values_decoded_to_json() -> None:
    made = {s.name: s for s in scenarios(("S2", "S6"), QUICK)}
    six, two = made["S6"], made["S2"]
    assert six.avro
    assert not two.avro
    assert (six.records, six.latency_s, six.workload) == (two.records, two.latency_s, two.workload)
    settings = six.bridge()
    assert settings.decodes_schemas
    assert settings.schema_record_format == "JSON"
    assert settings.batch_size == two.bridge().batch_size
