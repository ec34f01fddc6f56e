"""DLQ names an SQS queue (ARN or URL) or an SNS topic (ARN); DLQ_OVERFLOW goes with them."""

from __future__ import annotations

import pytest

from consumer.errors import ConfigurationError
from consumer.settings.failures import parse_dlq, parse_overflow
from consumer.settings.model import load_settings

BASE = {"KAFKA_BOOTSTRAP_SERVERS": "b:9092", "KAFKA_TOPIC": "t", "KAFKA_GROUP_ID": "g"}
BASE |= {"LAMBDA_FUNCTION_NAME": "f"}
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:dead-letters"


@pytest.mark.parametrize(
    ("location", "service", "region", "name", "url"),
    [
        (
            QUEUE_ARN,
            "sqs",
            "eu-west-1",
            "dead-letters",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/dead-letters",
        ),
        (
            "https://sqs.us-east-2.amazonaws.com/123456789012/q.fifo",
            "sqs",
            "us-east-2",
            "q.fifo",
            "https://sqs.us-east-2.amazonaws.com/123456789012/q.fifo",
        ),
        (
            "https://eu-central-1.queue.amazonaws.com/123456789012/q",
            "sqs",
            "eu-central-1",
            "q",
            "https://eu-central-1.queue.amazonaws.com/123456789012/q",
        ),
        (
            "arn:aws-cn:sqs:cn-north-1:123456789012:q",
            "sqs",
            "cn-north-1",
            "q",
            "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q",
        ),
        ("arn:aws:sns:ap-southeast-2:123456789012:alerts", "sns", "ap-southeast-2", "alerts", None),
    ],
)
def test_a_queue_or_topic_is_read_from_its_arn_or_url(
    location: str, service: str, region: str, name: str, url: str | None
) -> None:
    parsed = parse_dlq(location)
    assert parsed.scheme == service
    assert parsed.aws is not None
    assert (parsed.aws.region, parsed.aws.name, parsed.aws.account) == (
        region,
        name,
        "123456789012",
    )
    if url is not None:
        assert parsed.aws.url == url
        assert parsed.aws.endpoint_url is None
    assert parsed.aws.arn.endswith(f":{service}:{region}:123456789012:{name}")
    assert parsed.aws.fifo == name.endswith(".fifo")


def test_a_queue_url_of_a_local_endpoint_aims_the_sdk_at_its_host() -> None:
    parsed = parse_dlq("http://127.0.0.1:4566/000000000000/q")
    assert parsed.aws is not None
    assert parsed.aws.endpoint_url == "http://127.0.0.1:4566"
    assert parsed.aws.region == ""  # the SDK's own


@pytest.mark.parametrize(
    "location",
    [
        "arn:aws:sqs:eu-west-1:12345:q",  # account of 5 digits
        "arn:aws:sqs:eu-west-1:123456789012:",
        "arn:aws:sqs:eu-west-1:123456789012:bad/name",
        "arn:aws:lambda:eu-west-1:123456789012:function:f",
        "arn:aws:sns:nowhere:123456789012:t",
        "https://sqs.eu-west-1.amazonaws.com/q",  # no account
        "https://sqs.eu-west-1.amazonaws.com/123456789012/q?x=1",
        "https://user:pw@sqs.eu-west-1.amazonaws.com/123456789012/q",
        "http://sqs.eu-west-1.amazonaws.com/123456789012/q",  # in clear, not loopback
        "sqs://q",
    ],
)
def test_a_malformed_queue_or_topic_is_refused_naming_dlq_and_the_forms(location: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings({**BASE, "DLQ": location, "DLQ_OVERFLOW": "s3://b/p/"})
    message = str(refused.value)
    assert f"DLQ={location!r}" in message
    assert "arn:aws:sqs:<region>:<account>:<queue>" in message or "https://" in message


def test_an_sqs_or_sns_dlq_requires_an_overflow_location() -> None:
    with pytest.raises(ConfigurationError, match="DLQ_OVERFLOW is required") as refused:
        load_settings({**BASE, "DLQ": QUEUE_ARN})
    assert "s3://bucket/prefix" in str(refused.value)
    settings = load_settings({**BASE, "DLQ": QUEUE_ARN, "DLQ_OVERFLOW": "s3://b/big"})
    assert parse_overflow(str(settings.dlq_overflow)).prefix == "big/"


@pytest.mark.parametrize(
    ("dlq", "overflow", "said"),
    [
        ("s3://b/p", "s3://b/o", "goes with an SQS or SNS DLQ only"),
        (QUEUE_ARN, "kafka://t", "is not s3://bucket/prefix"),
        (QUEUE_ARN, "s3://", "is not s3://bucket/prefix"),
    ],
)
def test_an_overflow_location_is_an_s3_one_beside_a_queue_or_topic(
    dlq: str, overflow: str, said: str
) -> None:
    with pytest.raises(ConfigurationError, match="DLQ_OVERFLOW") as refused:
        load_settings({**BASE, "DLQ": dlq, "DLQ_OVERFLOW": overflow})
    assert said in str(refused.value)
