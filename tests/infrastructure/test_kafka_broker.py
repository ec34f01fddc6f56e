"""The Kafka broker fixture is real: records, groups, commits, SASL_SSL, ACLs, restarts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
)
from aiokafka.structs import TopicPartition

from tests.support.apache_kafka import ApacheKafkaBroker
from tests.support.kafka_dist import KafkaDistributionError, ensure_kafka_jars
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import KafkaTestClient, TestRecord


async def test_records_produced_are_consumed_by_a_group_and_commits_read_back(
    kafka: KafkaUnderTest, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=3)
    sent = [TestRecord(value=f"v{i}".encode(), key=f"k{i % 5}".encode()) for i in range(30)]
    produced = await kafka.produce(topic_name, sent)
    assert {p.partition for p in produced} <= {0, 1, 2}

    group = f"group-{topic_name}"
    consumer = AIOKafkaConsumer(
        topic_name,
        bootstrap_servers=kafka.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        received = []
        while len(received) < len(sent):
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, "no records arrived within 10 s"
            for records in batches.values():
                received.extend(records)
        await consumer.commit()
    finally:
        await consumer.stop()

    assert sorted(r.value for r in received) == sorted(r.value for r in sent)
    highest = {}
    for p in produced:
        highest[p.partition] = max(highest.get(p.partition, -1), p.offset)
    assert await kafka.committed_offsets(group, topic_name) == {
        partition: offset + 1 for partition, offset in highest.items()
    }


async def test_headers_keys_and_explicit_partitions_survive_the_round_trip(
    kafka: KafkaUnderTest, topic_name: str
) -> None:
    await kafka.create_topic(topic_name, partitions=2)
    record = TestRecord(value=b"\xff\x00bin", key=b"k", partition=1, headers=[("h", b"\x01")])
    (produced,) = await kafka.produce(topic_name, [record])
    assert produced.partition == 1

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic_name, 1)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        got = await consumer.getone()
    finally:
        await consumer.stop()
    assert (got.key, got.value, list(got.headers)) == (b"k", b"\xff\x00bin", [("h", b"\x01")])
    assert got.offset == produced.offset


@pytest.mark.apache_kafka
async def test_sasl_ssl_plain_accepts_the_right_password_and_allowed_group(
    kafka: KafkaUnderTest, topic_name: str
) -> None:
    assert kafka.sasl is not None
    await kafka.create_topic(topic_name)
    producer = AIOKafkaProducer(**kafka.sasl_client_settings())
    await producer.start()
    try:
        await producer.send_and_wait(topic_name, b"over-tls")
    finally:
        await producer.stop()

    group = f"{kafka.sasl.allowed_group_prefix}{topic_name}"
    consumer = AIOKafkaConsumer(
        topic_name, group_id=group, auto_offset_reset="earliest", **kafka.sasl_client_settings()
    )
    await consumer.start()
    try:
        got = await consumer.getone()
        await consumer.commit()
    finally:
        await consumer.stop()
    assert got.value == b"over-tls"
    assert await kafka.committed_offsets(group, topic_name) == {0: 1}


@pytest.mark.apache_kafka
async def test_sasl_ssl_plain_rejects_a_wrong_password_with_an_authentication_error(
    kafka: KafkaUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    producer = AIOKafkaProducer(**kafka.sasl_client_settings(password="not-the-password"))
    # aiokafka folds the broker's answer into "unable to bootstrap" and logs the reason.
    with caplog.at_level("ERROR", logger="aiokafka"), pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()
    reasons = [r.getMessage() for r in caplog.records if r.name.startswith("aiokafka")]
    assert any(
        SaslAuthenticationFailed.__name__ in reason and "Invalid username or password" in reason
        for reason in reasons
    ), reasons


@pytest.mark.apache_kafka
async def test_a_group_outside_the_acl_is_denied_with_a_group_authorization_error(
    kafka: KafkaUnderTest, topic_name: str
) -> None:
    await kafka.create_topic(topic_name)
    consumer = AIOKafkaConsumer(
        topic_name, group_id=f"denied-{topic_name}", **kafka.sasl_client_settings()
    )
    try:
        with pytest.raises(GroupAuthorizationFailedError) as failure:
            await consumer.start()  # joining the group is where the broker says no
    finally:
        await consumer.stop()
    assert f"denied-{topic_name}" in str(failure.value)


@pytest.mark.apache_kafka
async def test_a_restarted_broker_keeps_its_records_and_stopping_leaves_no_process(
    own_apache_kafka: ApacheKafkaBroker,
) -> None:
    client = KafkaTestClient(own_apache_kafka.bootstrap)
    await client.create_topic("survives-restart")
    await client.produce("survives-restart", [TestRecord(value=b"kept")])
    await own_apache_kafka.restart()

    consumer = AIOKafkaConsumer(
        "survives-restart", bootstrap_servers=client.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        got = await consumer.getone()
    finally:
        await consumer.stop()
    assert got.value == b"kept"

    pid = own_apache_kafka.pid
    assert pid is not None
    await own_apache_kafka.stop()
    with pytest.raises(ProcessLookupError):  # the broker JVM must not outlive stop()
        os.kill(pid, 0)


@pytest.mark.apache_kafka
def test_cached_jars_are_used_without_calling_maven(
    kafka: KafkaUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")  # no mvn (nor anything else) can be found now
    libs = ensure_kafka_jars()
    assert any(jar.name.startswith("kafka_2.13-") for jar in libs.glob("*.jar"))


def test_a_failed_fetch_names_the_artifact_and_says_what_maven_said(tmp_path: Path) -> None:
    # A real Maven run, offline against an empty local repository, cannot resolve Kafka.
    if shutil.which("mvn") is None:
        pytest.skip("mvn is not installed")
    with pytest.raises(KafkaDistributionError) as failure:
        ensure_kafka_jars(
            cache_dir=tmp_path / "cache",
            maven_args=("--offline", f"-Dmaven.repo.local={tmp_path / 'empty-repo'}"),
        )
    message = str(failure.value)
    assert "org.apache.kafka:kafka_2.13" in message
    assert "KAFKA_TEST_BOOTSTRAP" in message
    assert "[ERROR]" in message  # Maven's own words are passed on
    assert not list((tmp_path / "cache").glob("*/fetched.ok")), "a failed fetch left a stamp"
