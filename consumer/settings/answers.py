"""The answer settings: where the function's answers and its errors are produced. A group of
fields of `BridgeSettings` (model.py); what an answer becomes is consumer/answers/."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from consumer.settings.declarations import setting

_FORMS = "kafka://topic (this cluster) or kafka://host:port,host:port/topic (another cluster)"


class AnswerSettings(BaseModel):
    """The function's answers and errors, back into Kafka."""

    response_topic: str | None = setting(
        None,
        doc=(
            "Produce each successful invocation's answer (per-record results split by their "
            "source keys) to this topic, before the source offsets are committed: "
            "`kafka://topic` on the bridge's cluster, or `kafka://host:port,…/topic` on "
            "another one reached with the same security settings. RequestResponse only."
        ),
        stack="responseTopic",
        example="kafka://<topic>",
    )
    error_topic: str | None = setting(
        None,
        doc=(
            "Produce each function error (an invocation that raised or timed out) to this "
            "topic, same forms as RESPONSE_TOPIC; best effort, never holds delivery up."
        ),
        stack="errorTopic",
        example="kafka://<topic>",
    )


@dataclass(frozen=True)
class AnswerTopic:
    topic: str
    # Another cluster's bootstrap servers; None: the bridge's own cluster (KAFKA_BOOTSTRAP_SERVERS).
    bootstrap_servers: str | None = None

    @property
    def description(self) -> str:
        where = "" if self.bootstrap_servers is None else f"{self.bootstrap_servers}/"
        return f"kafka://{where}{self.topic}"


def parse_answer_topic(variable: str, location: str) -> AnswerTopic:
    """`kafka://topic` or `kafka://host:port,host:port/topic`; ValueError naming `variable`."""
    scheme, sep, rest = location.partition("://")
    servers, slash, topic = rest.rpartition("/")
    if sep and scheme == "kafka" and _is_topic_name(topic):
        if not slash:
            return AnswerTopic(topic)
        hosts = servers.split(",")
        if all(_is_host_port(host) for host in hosts):
            return AnswerTopic(topic, servers)
    raise ValueError(f"{variable}={location!r} is not {_FORMS}")


def _is_topic_name(name: str) -> bool:
    return 0 < len(name) <= 249 and all((c.isascii() and c.isalnum()) or c in "._-" for c in name)


def _is_host_port(host_port: str) -> bool:
    host, colon, port = host_port.rpartition(":")
    return bool(colon and host and port.isdigit() and 0 < int(port) < 65536)
