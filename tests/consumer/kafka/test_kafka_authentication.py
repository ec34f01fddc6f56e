"""Every way the bridge authenticates to Kafka, against the real broker's listeners: SCRAM,
mutual TLS (certificates as files or as PEM text), OAUTHBEARER with tokens the broker
validates for real; each refusal is one line naming the setting, with no secret in it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from consumer.kafka.connection import token_provider
from consumer.kafka.tokens import TokenUnavailableError, oidc_client_credentials
from consumer.local import FunctionSpec, LocalLambda
from consumer.local.broker_process import free_loopback_port
from consumer.settings.model import load_settings
from consumer.settings.pem import as_file
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    assert_all_delivered,
    assert_key_order,
    bridge_environment,
    run_to_exit,
    running_bridge,
    the_error,
    until,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import TestRecord
from tests.support.oidc import (
    OAUTH_CLIENT_ID,
    OAUTH_CLIENT_SECRET,
    IdentityProvider,
    token_endpoint,
)

pytestmark = pytest.mark.apache_kafka


def records(count: int) -> list[TestRecord]:
    return [TestRecord(key=f"k{i % 7}".encode(), value=f'"r{i}"'.encode()) for i in range(count)]


@pytest.fixture
def sink(local_lambda: LocalLambda) -> RecordingSink:
    recording = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, recording))
    return recording


def _group(kafka: KafkaUnderTest) -> str:
    assert kafka.sasl is not None
    return f"{kafka.sasl.allowed_group_prefix}{uuid.uuid4().hex[:8]}"


async def _delivers(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    sink: RecordingSink,
    topic: str,
    env: dict[str, str],
) -> None:
    await kafka.create_topic(topic, partitions=3)
    produced = await kafka.produce(topic, records(150))
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, len(produced))
        await running.stopped()
    assert_all_delivered(produced, sink.delivered)
    assert_key_order(sink.delivered)


# --- SCRAM ------------------------------------------------------------------------------


def scram_environment(
    kafka: KafkaUnderTest, url: str, topic: str, mechanism: str, password: str | None = None
) -> dict[str, str]:
    assert kafka.sasl is not None
    return bridge_environment(
        kafka,
        url,
        topic,
        _group(kafka),
        kafka_bootstrap_servers=kafka.sasl.bootstrap,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism=mechanism,
        kafka_username=kafka.sasl.username,
        kafka_password=password or kafka.sasl.password,
        kafka_ssl_ca_file=kafka.sasl.ca_file,
    )


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_scram_delivers_everything(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    sink: RecordingSink,
    topic_name: str,
    mechanism: str,
) -> None:
    env = scram_environment(kafka, local_lambda.url, topic_name, mechanism)
    await _delivers(kafka, local_lambda, sink, topic_name, env)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
async def test_a_wrong_scram_password_is_one_line_without_the_password(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    sink: RecordingSink,
    mechanism: str,
) -> None:
    await kafka.create_topic(topic_name)
    wrong = "wrong-scram-pw-5521"
    env = scram_environment(kafka, local_lambda.url, topic_name, mechanism, password=wrong)
    code, lines = await run_to_exit(env)
    assert code == 3
    assert "KAFKA_USERNAME/KAFKA_PASSWORD" in the_error(lines)
    assert mechanism in the_error(lines)
    assert wrong not in json.dumps(lines)


# --- Mutual TLS ---------------------------------------------------------------------------


def mtls_environment(
    kafka: KafkaUnderTest, url: str, topic: str, **certificate: str
) -> dict[str, str]:
    assert kafka.mtls is not None
    return bridge_environment(
        kafka,
        url,
        topic,
        f"mtls-{uuid.uuid4().hex[:8]}",
        kafka_bootstrap_servers=kafka.mtls.bootstrap,
        kafka_security_protocol="SSL",
        kafka_ssl_ca_file=kafka.mtls.ca_file,
        **certificate,
    )


@pytest.mark.parametrize("given_as", ["files", "pem text"])
async def test_mutual_tls_delivers_with_the_certificate_as_files_or_as_pem_text(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    sink: RecordingSink,
    topic_name: str,
    given_as: str,
) -> None:
    assert kafka.mtls is not None
    client = kafka.mtls.client
    if given_as == "files":
        certificate, key = str(client.certificate_pem), str(client.key_pem)
    else:  # as ECS gives secrets: the text itself in the variable
        certificate, key = client.certificate_pem.read_text(), client.key_pem.read_text()
    env = mtls_environment(
        kafka, local_lambda.url, topic_name, kafka_ssl_certificate=certificate, kafka_ssl_key=key
    )
    await _delivers(kafka, local_lambda, sink, topic_name, env)


def test_pem_text_goes_to_a_private_file_only_the_process_can_read() -> None:
    text = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"
    path = Path(as_file(text))
    assert path.read_text() == text
    assert path.stat().st_mode & 0o777 == 0o600
    assert as_file("/some/file.pem") == "/some/file.pem"  # a path is used where it is


async def test_a_certificate_from_an_unknown_ca_is_refused_in_one_line(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str, sink: RecordingSink
) -> None:
    assert kafka.mtls is not None
    await kafka.create_topic(topic_name)
    stranger = kafka.mtls.stranger
    env = mtls_environment(
        kafka,
        local_lambda.url,
        topic_name,
        kafka_ssl_certificate=str(stranger.certificate_pem),
        kafka_ssl_key=str(stranger.key_pem),
    )
    code, lines = await run_to_exit(env)
    assert code == 3
    assert "KAFKA_SSL_CERTIFICATE: " in the_error(lines)
    assert "refused the client certificate" in the_error(lines)


async def test_a_missing_certificate_is_asked_for_in_one_line(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str, sink: RecordingSink
) -> None:
    await kafka.create_topic(topic_name)
    code, lines = await run_to_exit(mtls_environment(kafka, local_lambda.url, topic_name))
    assert code == 3
    assert "KAFKA_SSL_CERTIFICATE/KAFKA_SSL_KEY: " in the_error(lines)
    assert "wants a client certificate" in the_error(lines)


async def test_a_key_that_is_not_the_certificates_is_one_line_without_the_key(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str, sink: RecordingSink
) -> None:
    assert kafka.mtls is not None
    await kafka.create_topic(topic_name)
    key_text = kafka.mtls.stranger.key_pem.read_text()
    env = mtls_environment(
        kafka,
        local_lambda.url,
        topic_name,
        kafka_ssl_certificate=str(kafka.mtls.client.certificate_pem),
        kafka_ssl_key=key_text,
    )
    code, lines = await run_to_exit(env)
    assert code == 3
    assert "the client certificate cannot be used" in the_error(lines)
    assert key_text.splitlines()[1] not in json.dumps(lines)


# --- OAUTHBEARER ------------------------------------------------------------------------------


def oauth_environment(
    kafka: KafkaUnderTest, url: str, topic: str, token_url: str, secret: str = OAUTH_CLIENT_SECRET
) -> dict[str, str]:
    assert kafka.oauth is not None
    return bridge_environment(
        kafka,
        url,
        topic,
        f"oauth-{uuid.uuid4().hex[:8]}",
        kafka_bootstrap_servers=kafka.oauth.bootstrap,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="OAUTHBEARER",
        kafka_ssl_ca_file=kafka.oauth.ca_file,
        kafka_oauth_token_url=token_url,
        kafka_oauth_client_id=OAUTH_CLIENT_ID,
        kafka_oauth_client_secret=secret,
        kafka_oauth_scope="kafka",
    )


async def test_oauth_delivers_and_fetches_new_tokens_as_the_old_ones_expire(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, sink: RecordingSink, topic_name: str
) -> None:
    assert kafka.oauth is not None
    identity = kafka.oauth.identity_provider
    await kafka.create_topic(topic_name, partitions=3)
    first = await kafka.produce(topic_name, records(100))
    # Tokens live 4 s: the broker ends each session when its token expires, and the bridge
    # must come back with a fresh one while it keeps delivering.
    async with token_endpoint(identity, lifetime_s=4) as token_url:
        env = oauth_environment(kafka, local_lambda.url, topic_name, token_url)
        provider = token_provider(load_settings(env))
        fetched_before = provider.fetches
        async with running_bridge(env) as running:
            await wait_for_deliveries(local_lambda, sink, len(first))
            # The broker ends the first sessions as their token expires; the bridge's clients
            # reconnect with new tokens.
            await until(lambda: provider.fetches - fetched_before >= 2, timeout_s=60)
            second = await kafka.produce(topic_name, records(100))
            await wait_for_deliveries(local_lambda, sink, len(first) + len(second))
            await running.stopped()
    assert provider.fetches - fetched_before >= 2
    assert_all_delivered(first + second, sink.delivered)
    assert_key_order(sink.delivered)


async def test_a_wrong_client_secret_is_one_line_without_the_secret(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str, sink: RecordingSink
) -> None:
    assert kafka.oauth is not None
    await kafka.create_topic(topic_name)
    wrong = "not-the-oauth-secret-7731"
    async with token_endpoint(kafka.oauth.identity_provider) as token_url:
        env = oauth_environment(kafka, local_lambda.url, topic_name, token_url, secret=wrong)
        code, lines = await run_to_exit(env)
    assert code == 3
    assert "KAFKA_OAUTH_CLIENT_ID/KAFKA_OAUTH_CLIENT_SECRET" in the_error(lines)
    assert "refused the client (HTTP 401, invalid_client)" in the_error(lines)
    assert wrong not in json.dumps(lines)


async def test_an_unreachable_token_endpoint_is_one_line(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str, sink: RecordingSink
) -> None:
    await kafka.create_topic(topic_name)
    nowhere = f"http://127.0.0.1:{free_loopback_port()}/token"
    code, lines = await run_to_exit(oauth_environment(kafka, local_lambda.url, topic_name, nowhere))
    assert code == 3
    assert f"KAFKA_OAUTH_TOKEN_URL: no token from {nowhere}" in the_error(lines)


async def test_a_token_answer_without_a_lifetime_in_seconds_is_one_line(tmp_path: Path) -> None:
    async with token_endpoint(IdentityProvider(tmp_path), expires_in="soon") as token_url:
        fetch = oidc_client_credentials(token_url, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, None)
        with pytest.raises(TokenUnavailableError, match="expires_in is not a number of seconds"):
            await fetch()


async def test_a_token_the_broker_does_not_trust_is_one_line(
    kafka: KafkaUnderTest,
    local_lambda: LocalLambda,
    topic_name: str,
    sink: RecordingSink,
    tmp_path: Path,
) -> None:
    await kafka.create_topic(topic_name)
    impostor = IdentityProvider(tmp_path)  # signs with a key the broker has never seen
    async with token_endpoint(impostor) as token_url:
        env = oauth_environment(kafka, local_lambda.url, topic_name, token_url)
        code, lines = await run_to_exit(env)
    assert code == 3
    assert "refused the OAuth token" in the_error(lines)
    assert impostor.issued >= 1
