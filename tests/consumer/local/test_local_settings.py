"""The bridge's settings in local mode: --set beats the environment, which beats the local
defaults; where the broker, topic, group and function are comes from the local mode alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.local.local_settings import SettingFlagError, local_environment, parse_setting
from consumer.settings.model import load_settings


def mapping(environ: dict[str, str], flags: dict[str, str]) -> dict[str, str]:
    return local_environment(
        environ=environ,
        flags=flags,
        bootstrap="127.0.0.1:9092",
        topic="local-records",
        group_id="local-group",
        function_name="native_handler",
        lambda_url="http://127.0.0.1:9001",
        local_dlq=Path("dead-letters"),
        health_file=Path("/tmp/run/bridge.health"),
    )


def test_set_beats_the_environment_which_beats_the_local_defaults() -> None:
    settings = load_settings(
        mapping(
            environ={"BATCH_SIZE": "10", "LOG_LEVEL": "DEBUG", "ORDERING": "none", "HOME": "/h"},
            flags={"BATCH_SIZE": "50"},
        )
    )
    assert settings.batch_size == 50
    assert settings.log_level == "DEBUG"
    assert settings.ordering.value == "none"
    assert settings.dlq == "file://dead-letters"


def test_the_local_defaults_quiet_the_logs_and_keep_dead_letters_in_a_directory() -> None:
    settings = load_settings(mapping(environ={}, flags={}))
    assert (settings.log_level, settings.dlq) == ("WARNING", "file://dead-letters")
    assert settings.health_file == Path("/tmp/run/bridge.health")
    assert settings.aws_region == "us-east-1"


def test_a_failing_handler_is_dead_lettered_after_its_retries_unless_asked_to_wait() -> None:
    """Production retries function errors for minutes; a local run shows the dead letter now."""
    assert load_settings(mapping(environ={}, flags={})).retry_function_errors_for_seconds == 0
    asked = mapping(environ={}, flags={"RETRY_FUNCTION_ERRORS_FOR_SECONDS": "300"})
    assert load_settings(asked).retry_function_errors_for_seconds == 300


def test_a_dlq_the_user_set_replaces_the_local_directory() -> None:
    settings = load_settings(mapping(environ={"DLQ": "s3://bucket/dead/"}, flags={}))
    assert settings.dlq == "s3://bucket/dead/"


def test_a_production_address_left_in_the_environment_is_never_used() -> None:
    settings = load_settings(
        mapping(
            environ={
                "KAFKA_BOOTSTRAP_SERVERS": "pkc-prod.confluent.cloud:9092",
                "KAFKA_TOPIC": "stanford-prod",
                "LAMBDA_FUNCTION_NAME": "production-function",
                "LAMBDA_ENDPOINT_URL": "https://lambda.us-east-1.amazonaws.com",
            },
            flags={},
        )
    )
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.kafka_topic == ["local-records"]
    assert settings.lambda_function_name == "native_handler"
    assert settings.lambda_endpoint_url == "http://127.0.0.1:9001"


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("BATCH_SIZE", "write NAME=VALUE"),
        ("KAFKA_BOOTSTRAP_SERVERS=x:1", "the local mode sets it; use --bootstrap"),
        ("lambda_endpoint_url=http://x", "use --lambda-port"),
        ("MAX_INFLIGHT_PER_PARTITION=3", "did you mean MAX_IN_FLIGHT_PER_PARTITION?"),
    ],
)
def test_a_set_flag_is_checked_against_the_settings(flag: str, message: str) -> None:
    with pytest.raises(SettingFlagError, match=message):
        parse_setting(flag)


def test_set_flags_keep_their_value_whole_and_names_are_upper_cased() -> None:
    assert parse_setting('kafka_properties={"a": "b=c"}') == ("KAFKA_PROPERTIES", '{"a": "b=c"}')
