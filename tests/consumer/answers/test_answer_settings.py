"""RESPONSE_TOPIC and ERROR_TOPIC: the forms they take, and the settings they refuse."""

from __future__ import annotations

import pytest

from consumer.errors import ConfigurationError
from consumer.settings.answers import AnswerTopic, parse_answer_topic
from consumer.settings.model import load_settings

REQUIRED = {
    "KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
    "KAFKA_TOPIC": "records",
    "KAFKA_GROUP_ID": "bridge",
    "LAMBDA_FUNCTION_NAME": "fn",
}


def test_a_topic_on_the_bridges_cluster_or_another() -> None:
    assert parse_answer_topic("RESPONSE_TOPIC", "kafka://answers") == AnswerTopic("answers")
    assert parse_answer_topic("RESPONSE_TOPIC", "kafka://b-1:9092,b-2:9092/out.v1") == (
        AnswerTopic("out.v1", "b-1:9092,b-2:9092")
    )


@pytest.mark.parametrize(
    "location",
    [
        "answers",
        "s3://bucket/answers",
        "kafka://",
        "kafka://host/answers",  # no port
        "kafka://host:0/answers",
        "kafka://host:9092/",
        "kafka://a:1,,b:2/answers",
        "kafka://ans wers",
        "kafka://ånswers",
    ],
)
def test_a_malformed_location_is_named_with_its_forms(location: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**REQUIRED, "RESPONSE_TOPIC": location})
    message = str(raised.value)
    assert f"RESPONSE_TOPIC={location!r} is not kafka://topic" in message
    assert "kafka://host:port,host:port/topic" in message


@pytest.mark.parametrize("variable", ["RESPONSE_TOPIC", "ERROR_TOPIC"])
def test_an_event_invocation_has_no_answer_to_produce(variable: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**REQUIRED, variable: "kafka://t", "LAMBDA_INVOCATION_TYPE": "Event"})
    message = str(raised.value)
    assert f"{variable} needs LAMBDA_INVOCATION_TYPE=RequestResponse" in message
    assert f"Unset {variable}" in message


def test_both_are_unset_by_default() -> None:
    settings = load_settings(REQUIRED)
    assert settings.response_topic is None
    assert settings.error_topic is None
