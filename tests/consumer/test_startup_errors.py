"""Every expected start-up failure ends `python -m consumer` with one readable line naming
the setting to fix, a non-zero exit and no traceback."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from consumer.local import FunctionSpec, LocalLambda
from consumer.local.broker_process import free_loopback_port
from tests.support.bridge_harness import (
    FUNCTION,
    bridge_environment,
    run_to_exit,
    the_error,
)
from tests.support.kafka_fixtures import KafkaUnderTest


@pytest.fixture
def sink_lambda(local_lambda: LocalLambda) -> LocalLambda:
    local_lambda.add_function(FunctionSpec(FUNCTION, lambda event, context: None))
    return local_lambda


async def test_a_missing_setting_is_named_with_its_meaning(
    kafka: KafkaUnderTest, sink_lambda: LocalLambda, topic_name: str
) -> None:
    env = bridge_environment(kafka, sink_lambda.url, topic_name, "g")
    del env["KAFKA_GROUP_ID"]
    code, lines = await run_to_exit(env)
    assert code == 2
    assert "KAFKA_GROUP_ID is required" in the_error(lines)


async def test_no_aws_region_anywhere_is_named_in_one_line(
    kafka: KafkaUnderTest, sink_lambda: LocalLambda, topic_name: str
) -> None:
    """Fine on ECS (the task has AWS_REGION), common on a laptop: botocore's NoRegionError
    used to end the bridge in a traceback."""
    env = bridge_environment(kafka, sink_lambda.url, topic_name, "g")
    del env["AWS_REGION"]
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    code, lines = await run_to_exit(env)
    assert code == 2
    message = the_error(lines)
    assert message.startswith("AWS_REGION: no AWS region is set")
    assert "LAMBDA_FUNCTION_NAME as the function's ARN" in message


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("MAX_IN_FLIGHT_PER_PARTITION", "0", "MAX_IN_FLIGHT_PER_PARTITION"),
        ("PAYLOAD_FORMAT", "xml", "PAYLOAD_FORMAT"),
        ("KAFKA_PROPERTIES", '{"fetch_min_byte": 1}', "did you mean 'fetch_min_bytes'"),
        ("KAFKA_PROPERTIES", '{"group_id": "x"}', "set KAFKA_GROUP_ID"),
        ("KAFKA_STARTING_POSITION", "yesterday", "KAFKA_STARTING_POSITION"),
        ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "needs KAFKA_USERNAME and KAFKA_PASSWORD"),
    ],
)
async def test_an_invalid_setting_is_named(
    kafka: KafkaUnderTest,
    sink_lambda: LocalLambda,
    topic_name: str,
    setting: str,
    value: str,
    expected: str,
) -> None:
    env = bridge_environment(kafka, sink_lambda.url, topic_name, "g", **{setting: value})
    code, lines = await run_to_exit(env)
    assert code == 2
    assert expected in the_error(lines)


async def test_unreachable_brokers_fail_after_the_bounded_wait(
    sink_lambda: LocalLambda, kafka: KafkaUnderTest, topic_name: str
) -> None:
    env = bridge_environment(kafka, sink_lambda.url, topic_name, "g")
    env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{free_loopback_port()}"
    env["KAFKA_CONNECT_TIMEOUT_SECONDS"] = "2"
    code, lines = await run_to_exit(env)
    assert code == 3
    message = the_error(lines)
    assert "KAFKA_BOOTSTRAP_SERVERS: no broker answered within 2 s" in message


@pytest.mark.parametrize(
    ("servers", "said"),
    [
        ("closed", "refused the connection (nothing listens there)"),
        ("nohost.invalid:9092", "nohost.invalid is not a host name the resolver knows"),
    ],
)
async def test_refused_or_unknown_brokers_are_named_in_seconds_not_the_whole_budget(
    sink_lambda: LocalLambda, kafka: KafkaUnderTest, topic_name: str, servers: str, said: str
) -> None:
    """A wrong port or a typo is permanent at that moment: a few seconds of retries (a broker
    restarting), then the line, while a broker that does not answer keeps the whole wait."""
    env = bridge_environment(kafka, sink_lambda.url, topic_name, "g")
    if servers == "closed":
        servers = f"127.0.0.1:{free_loopback_port()}"
    env["KAFKA_BOOTSTRAP_SERVERS"] = servers
    env["KAFKA_CONNECT_TIMEOUT_SECONDS"] = "120"
    started = time.monotonic()
    code, lines = await run_to_exit(env, timeout_s=60)
    assert code == 3
    message = the_error(lines)
    assert message.startswith("KAFKA_BOOTSTRAP_SERVERS: ")
    assert said in message
    assert time.monotonic() - started < 60  # the budget was 120 s


async def test_a_missing_topic_is_named(
    kafka: KafkaUnderTest, sink_lambda: LocalLambda, topic_name: str
) -> None:
    env = bridge_environment(kafka, sink_lambda.url, f"absent-{topic_name}", "g")
    code, lines = await run_to_exit(env)
    assert code == 3
    assert f"KAFKA_TOPIC: topic absent-{topic_name} does not exist" in the_error(lines)


async def test_a_missing_function_is_named(
    kafka: KafkaUnderTest, sink_lambda: LocalLambda, topic_name: str
) -> None:
    await kafka.create_topic(topic_name)
    env = bridge_environment(kafka, sink_lambda.url, topic_name, "g")
    env["LAMBDA_FUNCTION_NAME"] = "no-such-function"
    code, lines = await run_to_exit(env)
    assert code == 4
    assert "LAMBDA_FUNCTION_NAME: function 'no-such-function' was not found" in the_error(lines)


@pytest.mark.apache_kafka
async def test_a_wrong_password_is_reported_as_rejected_credentials_without_the_password(
    kafka: KafkaUnderTest, sink_lambda: LocalLambda, topic_name: str
) -> None:
    assert kafka.sasl is not None
    env = sasl_environment(kafka, sink_lambda.url, topic_name, password="wrong-pw-1234")
    code, lines = await run_to_exit(env)
    assert code == 3
    message = the_error(lines)
    assert "KAFKA_USERNAME/KAFKA_PASSWORD" in message
    assert "rejected the credentials" in message
    assert "wrong-pw-1234" not in json.dumps(lines)


@pytest.mark.apache_kafka
async def test_a_group_the_acls_deny_is_named_with_the_fix(
    kafka: KafkaUnderTest, sink_lambda: LocalLambda, topic_name: str
) -> None:
    assert kafka.sasl is not None
    await kafka.create_topic(topic_name)
    env = sasl_environment(kafka, sink_lambda.url, topic_name, group=f"denied-{topic_name}")
    code, lines = await run_to_exit(env)
    assert code == 3
    message = the_error(lines)
    assert f"KAFKA_GROUP_ID: the broker does not allow group 'denied-{topic_name}'" in message
    assert kafka.sasl.password not in json.dumps(lines)


def sasl_environment(
    kafka: KafkaUnderTest,
    lambda_url: str,
    topic: str,
    password: str | None = None,
    group: str | None = None,
) -> dict[str, str]:
    assert kafka.sasl is not None
    env = bridge_environment(
        kafka,
        lambda_url,
        topic,
        group or f"{kafka.sasl.allowed_group_prefix}{uuid.uuid4().hex[:8]}",
    )
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=kafka.sasl.bootstrap,
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_MECHANISM="PLAIN",
        KAFKA_USERNAME=kafka.sasl.username,
        KAFKA_PASSWORD=password or kafka.sasl.password,
        KAFKA_SSL_CA_FILE=str(kafka.sasl.ca_file),
    )
    return env
