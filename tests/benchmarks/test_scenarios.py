"""The scenarios: the bridge's effective settings and the bound they give."""

from __future__ import annotations

import pytest

from benchmarks.scenarios import QUICK, Membership, Sizes, scenarios, with_records


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
    # Benthos sends the legacy payload, so does one bridge; and Benthos with its defaults
    peers = ("bridge-legacy", "benthos", "benthos-defaults")
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


def test_s8_runs_the_bridges_and_benthos_through_its_schedule_at_a_steady_rate() -> None:
    [full] = scenarios(("S8",), Sizes())
    [quick] = scenarios(("S8",), QUICK)
    assert full.contenders == ("bridge", "bridge-legacy", "benthos")
    assert full.membership is not None
    assert quick.membership is not None
    assert full.membership.members == (1, 2, 3, 2, 1)
    assert full.membership.function_latency_s == (1.0, 4.0)
    assert full.membership.function_timeout_s == 15.0
    # a spacing before the first change, and one after each
    assert full.live_s == 5 * full.membership.spacing_s == 125.0
    assert quick.live_s < full.live_s
    assert (full.workload.partitions, full.workload.keys) == (12, 240)
    assert full.live_rate is not None
    assert 100 <= full.live_rate <= 120
    assert with_records(full, 1234).records == full.records  # its warm-up is not resized


def test_a_membership_schedule_changes_one_member_at_a_time_and_keeps_one() -> None:
    assert Membership(members=(1, 2, 1)).changes == 2
    with pytest.raises(ValueError, match="one member"):
        Membership(members=(1, 3, 1))
    with pytest.raises(ValueError, match="at least one member"):
        Membership(members=(1, 0, 1))
