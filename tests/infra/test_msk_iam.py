"""MSK IAM on the Pulumi side: the task role may connect to the one cluster, read its topics
(or those under a pattern's prefix), use its group and write a Kafka dead-letter topic —
statement by statement, nothing else; the keys it needs are checked before anything."""

from __future__ import annotations

from typing import Any

import pytest

from consumer.settings.model import load_settings
from infra.msk import literal_prefix
from infra.settings import ConfigurationError
from tests.support.pulumi_program import ACCOUNT_ID, MINIMAL_CONFIG, deploy, run_program

CLUSTER = (
    f"arn:aws:kafka:us-east-1:{ACCOUNT_ID}:cluster/orders/0a1b2c3d-4e5f-6789-abcd-ef0123456789-7"
)
OF_CLUSTER = "orders/0a1b2c3d-4e5f-6789-abcd-ef0123456789-7"
BROKERS = "b-1.orders.x1y2z3.c7.kafka.us-east-1.amazonaws.com:9098"
MSK_IAM: dict[str, object] = {
    **MINIMAL_CONFIG,
    "bootstrapServers": BROKERS,
    "saslMechanism": "AWS_MSK_IAM",
    "username": "",
    "mskClusterArn": CLUSTER,
}


def _task_statements(config: dict[str, object]) -> dict[str, dict[str, Any]]:
    policy = deploy(config, password=None).role_policy("-task")
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def _arn(kind: str, name: str = "") -> str:
    return f"arn:aws:kafka:us-east-1:{ACCOUNT_ID}:{kind}/{OF_CLUSTER}{name}"


def test_the_task_role_may_connect_read_the_topic_and_use_the_group_and_nothing_else() -> None:
    statements = _task_statements(MSK_IAM)
    assert set(statements) == {"InvokeFunction", "ReadFunctionTimeout", "WriteDeadLetters",
                               "ConnectToCluster", "ReadTopics", "UseGroup"}  # fmt: skip
    assert statements["ConnectToCluster"]["Action"] == [
        "kafka-cluster:Connect",
        "kafka-cluster:DescribeCluster",
    ]
    assert statements["ConnectToCluster"]["Resource"] == _arn("cluster")
    assert statements["ReadTopics"]["Action"] == [
        "kafka-cluster:DescribeTopic",
        "kafka-cluster:ReadData",
    ]
    assert statements["ReadTopics"]["Resource"] == [_arn("topic", "/records")]
    assert statements["UseGroup"]["Action"] == [
        "kafka-cluster:DescribeGroup",
        "kafka-cluster:AlterGroup",
    ]
    assert statements["UseGroup"]["Resource"] == _arn("group", "/bridge")


def test_a_kafka_dead_letter_topic_may_be_written_and_no_other() -> None:
    statements = _task_statements({**MSK_IAM, "dlq": "kafka://failed-records"})
    assert "WriteDeadLetters" not in statements  # no bucket
    assert statements["WriteDeadLetterTopic"]["Action"] == [
        "kafka-cluster:DescribeTopic",
        "kafka-cluster:WriteData",
    ]
    assert statements["WriteDeadLetterTopic"]["Resource"] == _arn("topic", "/failed-records")
    writes = [s for s in statements.values() if "kafka-cluster:WriteData" in s["Action"]]
    assert len(writes) == 1


def test_answer_topics_on_the_cluster_may_be_written_idempotently_and_no_other() -> None:
    config = {
        **MSK_IAM,
        "responseTopic": "kafka://answers",
        "errorTopic": "kafka://function-errors",
    }
    statements = _task_statements(config)
    assert statements["WriteAnswerTopics"]["Action"] == [
        "kafka-cluster:DescribeTopic",
        "kafka-cluster:WriteData",
    ]
    assert statements["WriteAnswerTopics"]["Resource"] == [
        _arn("topic", "/answers"),
        _arn("topic", "/function-errors"),
    ]
    assert statements["WriteIdempotently"]["Action"] == "kafka-cluster:WriteDataIdempotently"
    assert statements["WriteIdempotently"]["Resource"] == _arn("cluster")
    environment = deploy(config, password=None).environment()
    assert environment["RESPONSE_TOPIC"] == "kafka://answers"
    assert environment["ERROR_TOPIC"] == "kafka://function-errors"


def test_an_answer_topic_on_another_cluster_is_not_granted_on_this_one() -> None:
    config = {**MSK_IAM, "responseTopic": "kafka://b-1.other.example:9098/answers"}
    statements = _task_statements(config)
    assert "WriteAnswerTopics" not in statements
    assert "WriteIdempotently" not in statements


def test_without_answer_topics_nothing_more_may_be_written() -> None:
    statements = _task_statements(MSK_IAM)
    assert "WriteAnswerTopics" not in statements
    assert "WriteIdempotently" not in statements


def test_a_topic_pattern_may_read_the_topics_under_its_literal_prefix_only() -> None:
    config = {**MSK_IAM, "topic": "", "topicPattern": "orders-(eu|us)-.*"}
    assert _task_statements(config)["ReadTopics"]["Resource"] == [_arn("topic", "/orders-*")]


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        ("orders-.*", "orders-"),
        ("orders", "orders"),
        ("orders-v?1", "orders-"),  # the "v" may be absent
        ("orders-[ab]", "orders-"),
        ("a|orders", ""),  # either alternative
        ("orders-(eu|us)", "orders-"),  # alternatives after the prefix
        ("orders-[|]x", "orders-"),
        ("(?i)orders", ""),
        (r"orders\.eu", "orders"),
    ],
)
def test_a_patterns_literal_prefix_is_what_every_match_starts_with(
    pattern: str, prefix: str
) -> None:
    assert literal_prefix(pattern) == prefix


def test_the_container_speaks_msk_iam_without_a_password_and_reaches_port_9098() -> None:
    deployment = deploy(MSK_IAM, password=None)
    environment = deployment.environment()
    assert environment["KAFKA_SASL_MECHANISM"] == "AWS_MSK_IAM"
    settings = load_settings(environment)
    assert settings.kafka_password is None
    # No Kafka secret: the one secret is the key-hash secret the stack makes.
    assert [s["name"] for s in deployment.container()["secrets"]] == ["KEY_HASH_SECRET"]
    (parameter,) = deployment.of_type("aws:ssm/parameter:Parameter")
    assert parameter.inputs["name"].endswith("/key-hash-secret")
    group = deployment.one("aws:ec2/securityGroup:SecurityGroup").inputs
    assert {rule["fromPort"] for rule in group["egress"]} == {443, 9098}
    execution = deployment.role_policy("-execution")
    (read,) = [s for s in execution["Statement"] if s["Action"] == "ssm:GetParameters"]
    assert read["Resource"] == [
        f"arn:aws:ssm:us-east-1:{ACCOUNT_ID}:parameter{parameter.inputs['name']}"
    ]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"mskClusterArn": ""}, "mskClusterArn is required with saslMechanism AWS_MSK_IAM"),
        (
            {"saslMechanism": "PLAIN", "username": "u"},
            "mskClusterArn is used only with saslMechanism AWS_MSK_IAM",
        ),
        ({"mskClusterArn": "arn:aws:kafka:us-east-1:1:cluster/x"}, "use the cluster's ARN"),
        ({"securityProtocol": "SASL_PLAINTEXT"}, "AWS_MSK_IAM needs SASL_SSL"),
    ],
)
def test_msk_iam_without_what_it_needs_stops_the_program_naming_the_key(
    overrides: dict[str, object], fragment: str
) -> None:
    deployment = run_program(
        {**MSK_IAM, **overrides}, password="pw" if "username" in overrides else None
    )
    assert isinstance(deployment.error, ConfigurationError), deployment.error
    assert fragment in str(deployment.error)
    assert "; fix it with: pulumi config set " in str(deployment.error)
    assert deployment.resources == []
