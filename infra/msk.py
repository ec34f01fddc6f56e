"""MSK IAM access control: what the bridge's task role may do on the cluster, and nothing more.

MSK authorizes each Kafka action against IAM: the bridge connects and describes the cluster,
describes and reads its topics (those a pattern names: everything under the pattern's
literal prefix), describes and joins its group, and writes only to a Kafka dead-letter topic
and the answer topics on this cluster (RESPONSE_TOPIC, ERROR_TOPIC).
Resources are the cluster's own ARNs: topic and group ARNs are built from the cluster ARN
(arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid> → …:topic/<name>/<uuid>/<topic>).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from consumer.settings.answers import parse_answer_topic
from consumer.settings.model import BridgeSettings

_CLUSTER_ARN: Final = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):kafka:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"cluster/(?P<name>[A-Za-z0-9-]+)/(?P<uuid>[A-Za-z0-9-]+)$"
)
# Regular-expression characters: a pattern's literal prefix ends before the first of them.
_SPECIAL: Final = re.compile(r"[\\.^$*+?{}\[\]|()]")


@dataclass(frozen=True)
class MskCluster:
    partition: str
    region: str
    account: str
    name: str
    uuid: str

    @classmethod
    def from_arn(cls, arn: str) -> MskCluster:
        """ValueError unless `arn` is an MSK cluster's ARN."""
        match = _CLUSTER_ARN.match(arn)
        if match is None:
            raise ValueError(
                "use the cluster's ARN, arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>"
            )
        return cls(**match.groupdict())

    @property
    def arn(self) -> str:
        return self._arn("cluster", "")

    def topic_arn(self, topic: str) -> str:
        return self._arn("topic", f"/{topic}")

    def group_arn(self, group: str) -> str:
        return self._arn("group", f"/{group}")

    def _arn(self, kind: str, suffix: str) -> str:
        return (
            f"arn:{self.partition}:kafka:{self.region}:{self.account}:"
            f"{kind}/{self.name}/{self.uuid}{suffix}"
        )


def literal_prefix(pattern: str) -> str:
    """The topic-name prefix every match of `pattern` starts with ("" if none is certain)."""
    if _has_top_level_alternative(pattern):  # then a match may start as that one does
        return ""
    special = _SPECIAL.search(pattern)
    prefix = pattern if special is None else pattern[: special.start()]
    # A quantifier right after the prefix applies to its last character, which may then be
    # absent (or repeated): that character is not certain.
    if special is not None and pattern[special.start()] in "*?{" and prefix:
        prefix = prefix[:-1]
    return prefix


def _has_top_level_alternative(pattern: str) -> bool:
    depth, escaped, in_class = 0, False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
    return False


def same_cluster_answer_topics(bridge: BridgeSettings) -> list[str]:
    """The topics of RESPONSE_TOPIC and ERROR_TOPIC that are on the bridge's own cluster."""
    topics = []
    for variable, location in (
        ("RESPONSE_TOPIC", bridge.response_topic),
        ("ERROR_TOPIC", bridge.error_topic),
    ):
        if location is not None:
            topic = parse_answer_topic(variable, location)
            if topic.bootstrap_servers is None and topic.topic not in topics:
                topics.append(topic.topic)
    return topics


def msk_statements(
    cluster: MskCluster,
    *,
    topics: list[str] | None,
    topic_pattern: str | None,
    group: str,
    dead_letter_topic: str | None,
    answer_topics: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The task role's statements for the bridge on this cluster. `answer_topics`: those of
    RESPONSE_TOPIC and ERROR_TOPIC on this cluster (a topic on another is that cluster's to
    grant), written by an idempotent producer."""
    if topics is not None:
        read = [cluster.topic_arn(topic) for topic in topics]
    else:
        read = [cluster.topic_arn(literal_prefix(topic_pattern or "") + "*")]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ConnectToCluster",
            "Effect": "Allow",
            "Action": ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"],
            "Resource": cluster.arn,
        },
        {
            "Sid": "ReadTopics",
            "Effect": "Allow",
            "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"],
            "Resource": read,
        },
        {
            "Sid": "UseGroup",
            "Effect": "Allow",
            "Action": ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"],
            "Resource": cluster.group_arn(group),
        },
    ]
    if dead_letter_topic is not None:
        statements.append(
            {
                "Sid": "WriteDeadLetterTopic",
                "Effect": "Allow",
                "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
                "Resource": cluster.topic_arn(dead_letter_topic),
            }
        )
    if answer_topics:
        statements.append(
            {
                "Sid": "WriteAnswerTopics",
                "Effect": "Allow",
                "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
                "Resource": [cluster.topic_arn(topic) for topic in answer_topics],
            }
        )
        statements.append(
            {
                "Sid": "WriteIdempotently",  # answers keep their order through retries
                "Effect": "Allow",
                "Action": "kafka-cluster:WriteDataIdempotently",
                "Resource": cluster.arn,
            }
        )
    return statements
