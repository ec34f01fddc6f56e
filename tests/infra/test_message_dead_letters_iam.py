"""An SQS or SNS dead-letter destination: the task may send to that queue or publish to that
topic only, write the overflow prefix only, and use the queue's or topic's key only."""

from __future__ import annotations

from typing import Any

import pytest

from infra.settings import ConfigurationError
from tests.support.pulumi_program import (
    ACCOUNT_ID,
    MINIMAL_CONFIG,
    Deployment,
    deploy,
    run_program,
)

QUEUE_ARN = f"arn:aws:sqs:eu-west-1:{ACCOUNT_ID}:bridge-dead-letters"
QUEUE_URL = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT_ID}/bridge-dead-letters"
TOPIC_ARN = f"arn:aws:sns:eu-west-1:{ACCOUNT_ID}:bridge-dead-letters"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/0f0e0d0c-0b0a-0908-0706-050403020100"


def _task_statements(deployment: Deployment) -> dict[str, dict[str, Any]]:
    policy = deployment.role_policy("-task")
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def _stack_bucket(deployment: Deployment) -> str:
    component = deployment.one("kafka-to-lambda:index:Bridge").name
    return f"{component}-dead-letters-0123abc"


@pytest.mark.parametrize("dlq", [QUEUE_ARN, QUEUE_URL], ids=["arn", "url"])
def test_an_sqs_dlq_gives_send_and_attributes_on_that_queue_and_the_overflow_prefix(
    dlq: str,
) -> None:
    deployment = deploy({**MINIMAL_CONFIG, "dlq": dlq, "dlqOverflow": "s3://big-letters/bridge"})
    statements = _task_statements(deployment)
    assert set(statements) == {
        "InvokeFunction",
        "ReadFunctionTimeout",
        "WriteDeadLetters",
        "SendDeadLetters",
    }
    assert statements["SendDeadLetters"] == {
        "Sid": "SendDeadLetters",
        "Effect": "Allow",
        "Action": ["sqs:GetQueueAttributes", "sqs:SendMessage"],
        "Resource": QUEUE_ARN,
    }
    assert statements["WriteDeadLetters"]["Action"] == "s3:PutObject"
    assert statements["WriteDeadLetters"]["Resource"] == "arn:aws:s3:::big-letters/bridge/*"
    environment = deployment.environment()
    assert environment["DLQ"] == dlq
    assert environment["DLQ_OVERFLOW"] == "s3://big-letters/bridge/"
    assert not deployment.of_type("aws:s3/bucket:Bucket"), "no bucket of its own is needed"


def test_an_sns_dlq_publishes_to_that_topic_and_overflows_to_the_stacks_bucket() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "dlq": TOPIC_ARN})
    statements = _task_statements(deployment)
    assert statements["PublishDeadLetters"] == {
        "Sid": "PublishDeadLetters",
        "Effect": "Allow",
        "Action": ["sns:GetTopicAttributes", "sns:Publish"],
        "Resource": TOPIC_ARN,
    }
    assert "SendDeadLetters" not in statements
    bucket = _stack_bucket(deployment)
    assert statements["WriteDeadLetters"]["Resource"] == f"arn:aws:s3:::{bucket}/dead-letters/*"
    assert deployment.environment()["DLQ_OVERFLOW"] == f"s3://{bucket}/dead-letters/"
    assert len(deployment.of_type("aws:s3/bucket:Bucket")) == 1


@pytest.mark.parametrize("dlq", [QUEUE_ARN, TOPIC_ARN], ids=["sqs", "sns"])
def test_a_customer_managed_key_is_usable_to_encrypt_and_only_that_key(dlq: str) -> None:
    deployment = deploy({**MINIMAL_CONFIG, "dlq": dlq, "dlqKmsKeyArn": KEY_ARN})
    assert _task_statements(deployment)["EncryptDeadLetters"] == {
        "Sid": "EncryptDeadLetters",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": KEY_ARN,
    }


@pytest.mark.parametrize(
    ("config", "said"),
    [
        ({"dlq": "s3://b/p", "dlqKmsKeyArn": KEY_ARN}, "dlqKmsKeyArn is used only with"),
        ({"dlq": "http://127.0.0.1:4566/000000000000/q"}, "give the queue's ARN"),
        ({"dlq": "arn:aws:sqs:eu-west-1:1:q"}, "dlq"),
        ({"dlq": QUEUE_ARN, "dlqOverflow": "kafka://t"}, "dlqOverflow"),
        ({"dlq": "s3://b/p", "dlqOverflow": "s3://b/o"}, "dlqOverflow"),
    ],
)
def test_a_stack_with_a_wrong_message_destination_is_refused_naming_the_key(
    config: dict[str, str], said: str
) -> None:
    deployment = run_program({**MINIMAL_CONFIG, **config})
    assert isinstance(deployment.error, ConfigurationError), deployment.error
    assert deployment.resources == [], "refused before anything is declared"
    assert said in str(deployment.error)
