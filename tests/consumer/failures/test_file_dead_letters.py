"""DLQ=file://directory: dead letters as files (the local mode's sink), on disk before the
offset moves past them, in the S3 sink's document and key layout, and redriven from there."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import given
from hypothesis import strategies as st

from consumer.errors import ConfigurationError
from consumer.failures import dead_letters as dead_letters_module
from consumer.failures.dead_letters import (
    DeadLetter,
    FileDeadLetters,
    dead_letter_document,
    open_dead_letters,
    topic_segment,
)
from consumer.local import FunctionSpec, LocalLambda
from consumer.local.summary import dead_letter_files_of
from consumer.redrive.letters import record_from_document
from consumer.redrive.run import Selection
from consumer.redrive.run import run as redrive
from consumer.settings.failures import DlqLocation, parse_dlq
from consumer.settings.model import load_settings
from tests.support.bridge_harness import (
    FUNCTION,
    REPO,
    RecordingSink,
    assert_all_delivered,
    bridge_environment,
    running_bridge,
    until,
    wait_for_deliveries,
)
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.poison import FAST_RETRIES, POISON, carries_poison, records_with_poison

pytestmark = pytest.mark.usefixtures("aws_test_credentials")

REQUIRED = {
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
    "KAFKA_TOPIC": "orders",
    "KAFKA_GROUP_ID": "g",
    "LAMBDA_FUNCTION_NAME": FUNCTION,
    "AWS_REGION": "us-east-1",
}


def letters_under(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every dead-letter file under `directory` (not redriven ones), with its document."""
    return [
        (path, json.loads(path.read_text()))
        for path in sorted(directory.glob("*/*/*.json"))
        if not path.name.startswith(".")
    ]


def letter(
    topic: str,
    partition: int,
    offset: int,
    value: bytes = POISON,
    headers: list[tuple[str, bytes | None]] | None = None,
) -> DeadLetter:
    now = time.time()
    record = ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=int(now * 1000),
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value),
        headers=[("trace", b"t-1")] if headers is None else headers,
    )
    return DeadLetter(record, "PoisonError", "it is poison", 4, now - 1, now)


@pytest.mark.parametrize(
    ("dlq", "directory"),
    [
        ("file:///var/dead-letters", "/var/dead-letters"),
        ("file://dead-letters/x", "dead-letters/x"),
    ],
)
def test_a_file_dlq_names_an_absolute_or_a_relative_directory(dlq: str, directory: str) -> None:
    assert parse_dlq(dlq) == DlqLocation("file", directory)
    assert load_settings({**REQUIRED, "DLQ": dlq}).dlq == dlq


def test_a_file_dlq_without_a_directory_is_refused_with_the_accepted_forms() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings({**REQUIRED, "DLQ": "file://"})
    message = str(refused.value)
    assert "DLQ='file://' is not s3://bucket/prefix, kafka://topic, file://directory" in message
    assert "an SQS queue (arn:aws:sqs:" in message
    assert "an SNS topic (arn:aws:sns:" in message


async def test_a_relative_file_dlq_writes_the_s3_document_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({**REQUIRED, "DLQ": "file://letters/here"})
    async with AsyncExitStack() as resources:
        sink = await open_dead_letters(settings, resources)
        assert sink is not None
        await sink.write([letter("orders", 3, 12345)])

    ((path, document),) = letters_under(tmp_path / "letters" / "here")
    relative = path.relative_to(tmp_path / "letters" / "here")
    assert relative.parent == Path("orders/00003")
    assert relative.name.startswith("00000000000000012345-")
    assert document["record"]["offset"] == 12345
    assert document["record"]["timestampType"] == "CREATE_TIME"  # as the native event says
    assert base64.b64decode(document["record"]["value"]) == POISON
    assert document["record"]["headers"] == [{"key": "trace", "value": "dC0x"}]
    assert document["error"] == {"type": "PoisonError", "message": "it is poison"}
    assert (document["attempts"], document["functionName"]) == (4, FUNCTION)


async def test_a_file_dlq_naming_a_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("not a directory")
    settings = load_settings({**REQUIRED, "DLQ": f"file://{tmp_path / 'taken'}"})
    async with AsyncExitStack() as resources:
        with pytest.raises(ConfigurationError, match="is not a directory"):
            await open_dead_letters(settings, resources)


async def test_a_dead_letter_file_and_its_directory_entry_are_fsynced_before_the_write_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partition_directory = tmp_path / "orders" / "00007"
    synced: list[tuple[str, bool]] = []  # (path, whether the letter had its name then)
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        named = any(partition_directory.glob("*.json"))
        synced.append((os.readlink(f"/proc/self/fd/{descriptor}"), named))
        real_fsync(descriptor)

    monkeypatch.setattr(dead_letters_module.os, "fsync", recording_fsync)
    settings = load_settings({**REQUIRED, "DLQ": f"file://{tmp_path}"})

    await FileDeadLetters(tmp_path, settings).write([letter("orders", 7, 42)])

    # The new directories' entries, then the letter's data, then its name in the directory.
    assert synced[:2] == [(str(tmp_path), False), (str(tmp_path / "orders"), False)]
    data, name = synced[2], synced[3]
    assert data[0].endswith(".partial"), "the data is synced under a temporary name"
    assert not data[1], "the data is synced before the letter gets its name"
    assert name == (str(partition_directory), True), "the rename is synced after it happened"
    assert len(synced) == 4
    (written,) = partition_directory.glob("*.json")
    assert written.name.startswith(f"{42:020d}-")
    assert not list(partition_directory.glob(".*")), "no partial file is left behind"


async def test_a_poison_record_becomes_a_file_with_its_reason_and_everything_else_flows(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str, tmp_path: Path
) -> None:
    await kafka.create_topic(topic_name, partitions=4)
    produced = await kafka.produce(topic_name, records_with_poison(400, poison_at=123))
    poison = next(p for p in produced if p.record.value == POISON)
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    group = f"g-{uuid.uuid4().hex}"
    directory = tmp_path / "dead"
    env = bridge_environment(
        kafka, local_lambda.url, topic_name, group, dlq=f"file://{directory}", **FAST_RETRIES
    )
    async with running_bridge(env) as running:
        await wait_for_deliveries(local_lambda, sink, len(produced) - 1)
        await until(lambda: running.bridge.counters.dead_lettered == 1)
        await running.stopped()

    assert_all_delivered([p for p in produced if p is not poison], sink.delivered)
    ((path, document),) = letters_under(directory)
    assert path.parent == directory / topic_name / f"{poison.partition:05d}"
    assert path.name.startswith(f"{poison.offset:020d}-")
    assert (document["record"]["partition"], document["record"]["offset"]) == (
        poison.partition,
        poison.offset,
    )
    assert base64.b64decode(document["record"]["value"]) == POISON
    assert document["error"]["type"] == "SimulatedFunctionError"
    ends: dict[int, int] = {}
    for p in produced:
        ends[p.partition] = max(ends.get(p.partition, 0), p.offset + 1)
    assert await kafka.committed_offsets(group, topic_name) == ends


async def test_while_the_dead_letter_directory_cannot_be_written_nothing_is_committed_past_it(
    kafka: KafkaUnderTest, local_lambda: LocalLambda, topic_name: str, tmp_path: Path
) -> None:
    directory = tmp_path / "dead"
    directory.mkdir()
    blocker = directory / topic_name  # a file where the topic's directory must go
    blocker.write_text("in the way")
    await kafka.create_topic(topic_name)
    produced = await kafka.produce(topic_name, records_with_poison(20, poison_at=5))
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink, fail_when=carries_poison))
    group = f"g-{uuid.uuid4().hex}"
    env = bridge_environment(
        kafka,
        local_lambda.url,
        topic_name,
        group,
        dlq=f"file://{directory}",
        commit_interval_ms=50,
        **FAST_RETRIES,
    )
    async with running_bridge(env) as running:
        counters = running.bridge.counters
        await until(lambda: counters.dead_letter_write_failures >= 3)
        committed_during_outage = await kafka.committed_offsets(group, topic_name)
        assert committed_during_outage.get(0, 0) <= produced[5].offset
        blocker.unlink()
        await until(lambda: counters.dead_lettered == 1)
        await wait_for_deliveries(local_lambda, sink, 19)
        await running.stopped()

    assert len(letters_under(directory)) == 1
    assert await kafka.committed_offsets(group, topic_name) == {0: 20}


async def test_redriving_file_dead_letters_delivers_them_once_and_moves_them_aside(
    local_lambda: LocalLambda, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(
        {**REQUIRED, "DLQ": f"file://{tmp_path}", "LAMBDA_ENDPOINT_URL": local_lambda.url}
    )
    sink = FileDeadLetters(tmp_path, settings)
    await sink.write([letter("orders", 0, 5), letter("orders", 2, 9)])
    fixed = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, fixed))
    everything = Selection(None, None, frozenset())

    assert await redrive(settings, everything, dry_run=False) == 0

    assert sorted((d.partition, d.offset, d.value) for d in fixed.delivered) == [
        (0, 5, POISON),
        (2, 9, POISON),
    ]
    assert letters_under(tmp_path) == []
    assert len(list((tmp_path / "redriven").glob("orders/*/*.json"))) == 2
    assert await redrive(settings, everything, dry_run=False) == 0
    assert len(fixed.delivered) == 2, "a second run sends nothing again"
    report = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert report[-1] == {"summary": True, "delivered": 0, "failed": 0}


async def test_a_run_lists_only_the_dead_letters_it_wrote(tmp_path: Path) -> None:
    """Two local runs into one ./dead-letters (at once, or one after the other): each one's
    summary names its own files, never the other's."""
    settings = load_settings({**REQUIRED, "DLQ": f"file://{tmp_path}"})
    earlier, this_run = FileDeadLetters(tmp_path, settings), FileDeadLetters(tmp_path, settings)
    await earlier.write([letter("orders", 0, 1), letter("orders", 1, 5)])
    await this_run.write([letter("orders", 0, 2)])
    await earlier.write([letter("orders", 0, 3)])

    mine = dead_letter_files_of(this_run)

    assert [path.relative_to(tmp_path).parts[:2] for path in mine] == [("orders", "00000")]
    assert mine[0].name == f"{2:020d}-{this_run.writer_id}.json"
    assert len(dead_letter_files_of(earlier)) == 3


@pytest.mark.parametrize(
    ("stored", "read"), [("CREATE_TIME", 0), ("LOG_APPEND_TIME", 1), (0, 0), (1, 1)]
)
def test_redrive_reads_the_timestamp_type_by_name_and_as_older_files_wrote_it(
    stored: str | int, read: int
) -> None:
    document = dead_letter_document(letter("orders", 0, 1), FUNCTION, "native", "b:9092")
    document["record"]["timestampType"] = stored
    assert record_from_document(document).timestamp_type == read


@pytest.mark.parametrize(
    ("kafka_settings", "bootstrap_in_event"),
    [
        ({}, "b-1.example:9096"),  # as the dead letter names it
        ({"KAFKA_BOOTSTRAP_SERVERS": "b-2.example:9096"}, "b-1.example:9096"),
        ({"KAFKA_TOPIC_PATTERN": "orders.*"}, "b-1.example:9096"),
    ],
)
async def test_redriving_file_dead_letters_needs_no_kafka_settings(
    local_lambda: LocalLambda,
    tmp_path: Path,
    kafka_settings: dict[str, str],
    bootstrap_in_event: str,
) -> None:
    """Redrive of a file (or S3) DLQ reads no Kafka: the bootstrap servers, topic and group
    the bridge needs may be left out; the native event names the cluster the letter came
    from."""
    written_by = load_settings(
        {**REQUIRED, "KAFKA_BOOTSTRAP_SERVERS": "b-1.example:9096", "DLQ": f"file://{tmp_path}"}
    )
    headers = [("trace", b"t-1"), ("empty", None)]
    await FileDeadLetters(tmp_path, written_by).write([letter("orders", 3, 7, headers=headers)])
    fixed = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, fixed))

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer.redrive",
        env={
            "PYTHONPATH": str(REPO),
            "DLQ": f"file://{tmp_path}",
            "LAMBDA_FUNCTION_NAME": FUNCTION,
            "LAMBDA_ENDPOINT_URL": local_lambda.url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            **kafka_settings,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)

    assert (process.returncode, err) == (0, b"")
    assert json.loads(out.splitlines()[-1]) == {"summary": True, "delivered": 1, "failed": 0}
    [event] = local_lambda.record.events(FUNCTION)
    assert event["bootstrapServers"] == bootstrap_in_event
    [record] = event["records"]["orders-3"]
    assert record["headers"] == [{"trace": list(b"t-1")}, {"empty": None}]


@pytest.mark.parametrize("topic", ["..", ".", "../../outside", "a/b", "redriven", "x\x00y"])
async def test_no_topic_name_writes_a_dead_letter_outside_the_directory(
    tmp_path: Path, topic: str
) -> None:
    """Apache Kafka refuses such names; other brokers (the embedded one) take any name."""
    directory = tmp_path / "dlq"
    sink = FileDeadLetters(directory, load_settings({**REQUIRED, "DLQ": f"file://{directory}"}))
    await sink.write([letter(topic, 0, 1)])
    (written,) = await asyncio.to_thread(lambda: list(tmp_path.rglob("*.json")))
    assert written.resolve().is_relative_to(directory.resolve())
    assert written.relative_to(directory).parts[0] not in (".", "..", "redriven")
    assert len(written.relative_to(directory).parts) == 3
    assert json.loads(written.read_text())["record"]["topic"] == topic


@given(topics=st.lists(st.text(min_size=1, max_size=12), min_size=2, max_size=6, unique=True))
def test_each_topic_has_a_segment_of_its_own_and_kafkas_names_keep_theirs(
    topics: list[str],
) -> None:
    segments = [topic_segment(topic) for topic in topics]
    assert len(set(segments)) == len(segments), "two topics never share a folder"
    for segment in segments:
        assert "/" not in segment
        assert segment not in (".", "..", "redriven")
    kafka_name = "".join(c for c in topics[0] if c.isascii() and (c.isalnum() or c in "._-"))
    if kafka_name and kafka_name not in (".", "..", "redriven"):
        assert topic_segment(kafka_name) == kafka_name


async def test_redrive_skips_and_reports_a_damaged_file_and_sends_the_others_even_of_redriven(
    local_lambda: LocalLambda, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(
        {**REQUIRED, "DLQ": f"file://{tmp_path}", "LAMBDA_ENDPOINT_URL": local_lambda.url}
    )
    sink = FileDeadLetters(tmp_path, settings)
    await sink.write([letter("orders", 0, 5), letter("redriven", 1, 7)])
    damaged = tmp_path / "orders" / "00000" / f"{3:020d}-damaged.json"
    damaged.write_text('{"record": {"topic": "orders"')  # cut short
    fixed = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, fixed))

    assert await redrive(settings, Selection(None, None, frozenset()), dry_run=False) == 1

    assert sorted((d.topic, d.offset) for d in fixed.delivered) == [("orders", 5), ("redriven", 7)]
    report = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (unreadable,) = [line for line in report if line.get("result") == "unreadable"]
    assert unreadable["where"] == f"file://{damaged}"
    assert "not a dead letter the bridge wrote" in unreadable["error"]
    assert report[-1] == {"summary": True, "delivered": 2, "failed": 1}
    assert damaged.exists(), "left where it is, for a person to look at"
