"""MSK IAM authentication. No broker here can check an MSK token (only MSK can), so the tests
prove each part that runs here: AWS's signer is called with the brokers' region and the
default credential chain's credentials; tokens are cached and replaced before they expire;
and the token travels in the SASL/OAUTHBEARER exchange to a real broker, which reads it."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from urllib.parse import parse_qs, urlparse

import pytest
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from consumer.kafka.connection import explain_group_failure
from consumer.kafka.tokens import (
    REFRESH_AT_LIFETIME_FRACTION,
    CachedTokenProvider,
    TokenFetch,
    TokenUnavailableError,
    msk_iam_region,
    msk_iam_signer,
)
from consumer.local import FunctionSpec, LocalLambda
from consumer.settings.model import load_settings
from tests.support.bridge_harness import FUNCTION, bridge_environment, run_to_exit, the_error
from tests.support.kafka_fixtures import KafkaUnderTest

ACCESS_KEY = "AKIDMSKTEST0000EXAMPLE"
SECRET_KEY = "msk-test-secret-key-do-not-log"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials in the environment, the first link of the default chain; nothing else."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """A default chain that finds nothing, and asks no instance-metadata service."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", f"{tmp_path}/none")


@pytest.mark.parametrize(
    ("servers", "region"),
    [
        ("b-1.orders.x1y2z3.c2.kafka.eu-west-1.amazonaws.com:9098", "eu-west-1"),
        ("a:9098,b-2.orders.x1y2z3.c2.kafka.ap-south-1.amazonaws.com:9098", "ap-south-1"),
        ("boot-abc.c1.kafka-serverless.us-east-2.amazonaws.com:9098", "us-east-2"),
        ("broker.internal:9098", "sa-east-1"),  # not MSK's name: the configured region
    ],
)
def test_the_region_is_the_brokers_own(servers: str, region: str) -> None:
    assert msk_iam_region(servers, "sa-east-1") == region


@pytest.mark.usefixtures("aws_credentials")
async def test_the_signer_signs_a_connect_request_for_the_region_with_the_chains_credentials() -> (
    None
):
    before = time.time()
    token, expires_at = await msk_iam_signer("eu-west-1")()
    url = urlparse(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    query = parse_qs(url.query)
    assert url.hostname == "kafka.eu-west-1.amazonaws.com"
    assert query["Action"] == ["kafka-cluster:Connect"]
    credential = query["X-Amz-Credential"][0].split("/")
    assert credential[0] == ACCESS_KEY
    assert credential[2:] == ["eu-west-1", "kafka-cluster", "aws4_request"]
    assert query["X-Amz-Expires"] == ["900"]  # MSK tokens live 15 minutes
    assert before + 890 <= expires_at <= time.time() + 900
    assert SECRET_KEY not in token


@pytest.mark.usefixtures("no_aws_credentials")
async def test_no_credentials_is_one_line_naming_where_they_come_from() -> None:
    with pytest.raises(TokenUnavailableError, match="AWS_MSK_IAM: no AWS credentials"):
        await msk_iam_signer("eu-west-1")()


def _counting_fetch(lifetime_s: float) -> tuple[list[str], TokenFetch]:
    issued: list[str] = []

    async def fetch() -> tuple[str, float]:
        issued.append(f"token-{len(issued) + 1}")
        return issued[-1], time.time() + lifetime_s

    return issued, fetch


async def test_a_token_with_most_of_its_life_left_is_reused() -> None:
    issued, fetch = _counting_fetch(lifetime_s=900)  # an MSK token's life
    provider = CachedTokenProvider(fetch, {"logicalCluster": "lkc-1"})
    assert [await provider.token() for _ in range(3)] == ["token-1"] * 3
    assert issued == ["token-1"]
    assert provider.extensions() == {"logicalCluster": "lkc-1"}


async def test_a_token_past_its_refresh_point_is_replaced_before_it_is_handed_out() -> None:
    # Tokens that expire at once are past 80 % of their life when next asked for.
    issued, fetch = _counting_fetch(lifetime_s=0)
    provider = CachedTokenProvider(fetch)
    assert [await provider.token() for _ in range(3)] == ["token-1", "token-2", "token-3"]
    assert len(issued) == 3
    assert 0 < REFRESH_AT_LIFETIME_FRACTION < 1


async def test_connections_asking_at_once_share_one_fetch() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    fetches = 0

    async def fetch() -> tuple[str, float]:
        nonlocal fetches
        fetches += 1
        started.set()
        await release.wait()
        return "shared", time.time() + 900

    provider = CachedTokenProvider(fetch)
    askers = [asyncio.create_task(provider.token()) for _ in range(10)]
    await started.wait()
    release.set()
    assert await asyncio.gather(*askers) == ["shared"] * 10
    assert fetches == 1


@pytest.mark.apache_kafka
@pytest.mark.usefixtures("aws_credentials")
async def test_the_iam_token_travels_in_the_oauthbearer_exchange_to_the_broker(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str
) -> None:
    """The broker's OAuth listener reads the token the bridge sends. It expects a JWT, so it
    refuses an MSK token: the refusal, and the broker's own log of the token it could not
    parse, show the IAM token went through the SASL exchange (only MSK can accept it)."""
    assert kafka.oauth is not None
    assert kafka.apache is not None
    local_lambda.add_function(FunctionSpec(FUNCTION, lambda event, context: None))
    await kafka.create_topic(topic_name)
    log_before = kafka.apache.log_path.read_text().count("Malformed JWT")
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
    )
    code, lines = await run_to_exit(env)
    assert code == 3
    assert "KAFKA_SASL_MECHANISM=AWS_MSK_IAM: " in the_error(lines)
    assert "refused the IAM token" in the_error(lines)
    assert "kafka-cluster:Connect" in the_error(lines)
    assert SECRET_KEY not in json.dumps(lines)
    assert kafka.apache.log_path.read_text().count("Malformed JWT") > log_before


@pytest.mark.parametrize(
    ("refusal", "names"),
    [
        (GroupAuthorizationFailedError, ["KAFKA_GROUP_ID", "kafka-cluster:AlterGroup"]),
        (TopicAuthorizationFailedError, ["KAFKA_TOPIC", "kafka-cluster:ReadData"]),
    ],
)
def test_a_missing_msk_permission_is_named_as_the_permission_to_grant(
    refusal: type[Exception], names: list[str]
) -> None:
    settings = load_settings(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "b-1.c.x.c2.kafka.us-east-1.amazonaws.com:9098",
            "KAFKA_TOPIC": "orders",
            "KAFKA_GROUP_ID": "bridge",
            "LAMBDA_FUNCTION_NAME": "f",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM",
        }
    )
    message = str(explain_group_failure(refusal(), settings))
    for name in names:
        assert name in message
    assert "IAM role" in message
