"""LOG_LEVEL=DEBUG writes no secret and no record: with PLAIN, SCRAM, OAUTHBEARER and MSK IAM
against the real broker's listeners, the whole output of `python -m consumer` holds neither the
password, the client secret, the tokens, the AWS keys, nor any record's key or value.

aiokafka at DEBUG prints every request and response it sends or reads (the SASL bytes with the
password, every fetched record); botocore prints request headers and signatures."""

from __future__ import annotations

import asyncio
import signal
import uuid

import pytest

from consumer.local import FunctionSpec, LocalLambda
from tests.consumer.kafka.test_kafka_authentication import oauth_environment, scram_environment
from tests.consumer.kafka.test_msk_iam import ACCESS_KEY, SECRET_KEY
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    bridge_environment,
    bridge_process,
    run_to_exit,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord
from tests.support.oidc import OAUTH_CLIENT_SECRET, token_endpoint

pytestmark = pytest.mark.apache_kafka

SESSION_TOKEN = "msk-session-token-never-in-a-log-0192"
KEY_MARKER = b"customer-482913"  # a record's key, never in a log either
VALUE_MARKER = b"curation-value-never-logged"


async def debug_output(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic: str, env: dict[str, str]
) -> str:
    """Everything `python -m consumer` wrote at DEBUG while it delivered 20 records."""
    await kafka.create_topic(topic, partitions=2)
    produced = await kafka.produce(
        topic, [TestRecord(key=KEY_MARKER, value=VALUE_MARKER + b"%d" % i) for i in range(20)]
    )
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    process = await bridge_process({**env, "LOG_LEVEL": "DEBUG"})
    try:
        await wait_for_deliveries(local_lambda, sink, len(produced), timeout_s=90)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    text = output.decode()
    assert '"level": "DEBUG"' in text, "DEBUG lines were written"
    return text


def assert_no_record_in(text: str) -> None:
    for marker in (KEY_MARKER, VALUE_MARKER):
        assert marker.decode() not in text
        assert repr(marker)[2:-1] not in text


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_a_password_mechanism_at_debug_logs_neither_the_password_nor_records(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str, mechanism: str
) -> None:
    assert kafka.sasl is not None
    env = scram_environment(kafka, local_lambda.url, topic_name, mechanism)
    text = await debug_output(kafka, local_lambda, topic_name, env)
    assert kafka.sasl.password not in text
    assert_no_record_in(text)


async def test_oauthbearer_at_debug_logs_neither_the_client_secret_nor_a_token(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    assert kafka.oauth is not None
    identity = kafka.oauth.identity_provider
    async with token_endpoint(identity) as token_url:
        env = oauth_environment(kafka, local_lambda.url, topic_name, token_url)
        issued_before = len(identity.tokens)
        text = await debug_output(kafka, local_lambda, topic_name, env)
    tokens = identity.tokens[issued_before:]
    assert tokens, "the bridge fetched a token"
    assert OAUTH_CLIENT_SECRET not in text
    for token in tokens:
        assert token not in text
        assert token.split(".")[2] not in text, "not even the signature"
    assert_no_record_in(text)


async def test_msk_iam_at_debug_logs_neither_the_aws_keys_nor_the_signed_token(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    """No broker here accepts an MSK token (the refusal is test_msk_iam's), but the token is
    made, signed with the task's keys and sent: none of it may show at DEBUG."""
    assert kafka.oauth is not None
    local_lambda.add_function(FunctionSpec(FUNCTION, lambda event, context: None))
    await kafka.create_topic(topic_name)
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        f"iam-{uuid.uuid4().hex[:8]}",
        kafka_bootstrap_servers=kafka.oauth.bootstrap,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="AWS_MSK_IAM",
        kafka_ssl_ca_file=kafka.oauth.ca_file,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token=SESSION_TOKEN,
        log_level="DEBUG",
    )
    code, lines = await run_to_exit(env)
    text = "\n".join(str(line) for line in lines)
    assert code == 3
    assert any(line["level"] == "DEBUG" for line in lines)
    for secret in (SECRET_KEY, SESSION_TOKEN, "X-Amz-Signature", "X-Amz-Security-Token"):
        assert secret not in text, secret
