"""Benthos' configuration: the bridge's settings carried over, and the legacy record; and the
bridge that sends the legacy record too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from benchmarks.benthos.build import binary_path
from benchmarks.benthos.pipeline import (
    LEGACY_RECORD,
    defaults_config,
    pipeline_config,
    pipeline_yaml,
)
from benchmarks.contenders import BENTHOS, CONTENDERS
from benchmarks.scenarios import QUICK, scenarios
from consumer.settings.model import load_settings
from consumer.settings.payload_format import PayloadFormat

RUN = {
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    "KAFKA_TOPIC": "bench-S1",
    "KAFKA_GROUP_ID": "bench-S1-group",
    "LAMBDA_FUNCTION_NAME": "S1-benthos",
    "LAMBDA_ENDPOINT_URL": "http://127.0.0.1:9001",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "benchmark",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
}


def invoke(config: dict[str, Any]) -> dict[str, Any]:
    processors = config["pipeline"]["processors"]
    return next(p["aws_lambda"] for p in processors if "aws_lambda" in p)


def test_the_input_reads_the_bridges_topic_in_its_group_in_batches_of_its_size() -> None:
    config = pipeline_config({**RUN, "BATCH_SIZE": "10", "COMMIT_INTERVAL_MS": "250"}, 20)
    kafka = config["input"]["kafka_franz"]
    assert kafka["seed_brokers"] == ["127.0.0.1:9092"]
    assert kafka["topics"] == ["bench-S1"]
    assert kafka["consumer_group"] == "bench-S1-group"
    assert kafka["batching"] == {"count": 10, "period": "100ms"}
    assert kafka["commit_period"] == "250ms"
    assert kafka["checkpoint_limit"] == 1000  # the bridge's records buffered per partition


def test_threads_are_the_invocations_the_bridge_has_in_flight_at_most() -> None:
    # S1: 20 partitions, 2 each, are fewer than the total of 100
    s1 = pipeline_config({**RUN, "MAX_IN_FLIGHT_PER_PARTITION": "2"}, 20)
    assert s1["pipeline"]["threads"] == 40
    s4 = pipeline_config({**RUN, "MAX_IN_FLIGHT_TOTAL": "40"}, 20)
    assert s4["pipeline"]["threads"] == 40
    s2 = pipeline_config(RUN, 100)
    assert s2["pipeline"]["threads"] == 100


def test_the_function_is_invoked_at_the_bridges_endpoint_with_its_credentials() -> None:
    lambda_ = invoke(pipeline_config({**RUN, "MAX_RETRIES": "5"}, 20))
    assert lambda_["function"] == "S1-benthos"
    assert lambda_["endpoint"] == "http://127.0.0.1:9001"
    assert lambda_["region"] == "us-east-1"
    assert lambda_["credentials"] == {"id": "benchmark", "secret": "benchmark"}
    assert lambda_["retries"] == 5
    assert lambda_["timeout"] == "910s"  # the bridge's read timeout


def test_a_batch_becomes_one_legacy_array_and_a_failed_one_is_nacked() -> None:
    config = pipeline_config(RUN, 20)
    kinds = [next(iter(p)) for p in config["pipeline"]["processors"]]
    assert kinds == ["mapping", "archive", "aws_lambda", "mutation"]
    assert config["pipeline"]["processors"][1] == {"archive": {"format": "json_array"}}
    assert config["output"] == {"reject_errored": {"drop": {}}}


def test_the_mapping_writes_every_key_of_the_legacy_record_in_its_order() -> None:
    written = [
        line.split("=")[0].removeprefix("root.").strip()
        for line in LEGACY_RECORD.splitlines()
        if line.startswith("root.")
    ]
    # LegacyEncoder's keys, alphabetical
    assert written == ["headers", "key", "offset", "partition", "timestamp", "topic", "value"]
    assert written == sorted(written)


def test_the_yaml_reads_back_as_the_config_with_the_mapping_as_written() -> None:
    config = pipeline_config(RUN, 20)
    text = pipeline_yaml(config)
    assert yaml.safe_load(text) == config
    assert "- mapping: |\n      let headers" in text


def test_the_command_runs_the_built_binary_on_the_config_written_beside_the_runs_log(
    tmp_path: Path,
) -> None:
    (s1,) = scenarios(("S1",), QUICK)
    command = BENTHOS.command(s1, {**RUN, **s1.bridge_settings}, tmp_path / "S1-benthos")
    config = tmp_path / "S1-benthos.benthos.yaml"
    assert command == [str(binary_path()), "-c", str(config)]
    written = yaml.safe_load(config.read_text())
    assert written["input"]["kafka_franz"]["batching"]["count"] == 10
    assert written["pipeline"]["threads"] == 40


def test_the_legacy_bridge_is_the_bridge_with_the_legacy_payload() -> None:
    legacy, bridge = CONTENDERS["bridge-legacy"], CONTENDERS["bridge"]
    (s1,) = scenarios(("S1",), QUICK)
    assert legacy.command(s1, RUN, Path()) == bridge.command(s1, RUN, Path())
    assert legacy.settings == {"PAYLOAD_FORMAT": "legacy"}
    assert load_settings({**RUN, **legacy.settings}).payload_format is PayloadFormat.LEGACY


def test_benthos_with_its_defaults_names_only_what_a_user_must_and_the_local_endpoint() -> None:
    config = defaults_config({**RUN, "BATCH_SIZE": "10", "MAX_IN_FLIGHT_PER_PARTITION": "2"})
    # Nothing of the bridge's tuning is carried over: no batching, threads, limits or retries.
    assert config["input"] == {
        "kafka_franz": {
            "seed_brokers": ["127.0.0.1:9092"],
            "topics": ["bench-S1"],
            "consumer_group": "bench-S1-group",
        }
    }
    assert "threads" not in config["pipeline"]
    assert config["pipeline"]["processors"] == [
        {
            "aws_lambda": {
                "function": "S1-benthos",
                "region": "us-east-1",
                "endpoint": "http://127.0.0.1:9001",
                "credentials": {"id": "benchmark", "secret": "benchmark"},
            }
        }
    ]
    assert config["output"] == {"drop": {}}  # no reject_errored: a failed invoke is committed


def test_the_defaults_row_runs_the_same_binary_and_is_measured_briefly(tmp_path: Path) -> None:
    defaults = CONTENDERS["benthos-defaults"]
    (s1,) = scenarios(("S1",), QUICK)
    assert "benthos-defaults" in s1.contenders
    command = defaults.command(s1, {**RUN, **s1.bridge_settings}, tmp_path / "S1-defaults")
    config = tmp_path / "S1-defaults.benthos.yaml"
    assert command == [str(binary_path()), "-c", str(config)]
    assert yaml.safe_load(config.read_text()) == defaults_config({**RUN, **s1.bridge_settings})
    assert defaults.measured_briefly
    (s8,) = scenarios(("S8",), QUICK)
    assert "benthos-defaults" not in s8.contenders  # its few keys: a bare value is not locatable
