"""`python -m consumer.redrive`: send dead-lettered records to the function again, after a fix.

Run it with the bridge's environment (the same DLQ, function and payload format; with a
schema registry set, records are decoded again, as the bridge decodes them). Each
record is invoked on its own and reported on one JSON line; the exit code is 0 when every
selected record was delivered. An S3 or file DLQ is read without Kafka, so the Kafka
settings (bootstrap servers, topic, group) may be left out: a dead letter carries the
bootstrap servers its native event names.

- S3 (`DLQ=s3://bucket/prefix`): a delivered record's object moves to
  `<prefix>redriven/...`, so a second run does not send it again; a failed one stays.
- File (`DLQ=file://directory`): a delivered record's file moves to
  `<directory>/redriven/...`, as with S3.
- Kafka (`DLQ=kafka://topic`): the topic is read with the group `<KAFKA_GROUP_ID>.redrive`,
  committed past each delivered record; after a failure the rest of that partition waits
  for the next run, so nothing is skipped.

Options: --dry-run (list only), --since/--until (ISO-8601, when the record was
dead-lettered), --partition N (repeatable: the source partitions to take).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata, TopicPartition

from consumer.aws_lambda.aws_clients import open_client
from consumer.aws_lambda.invoker import LambdaInvoker, Outcome
from consumer.errors import BridgeError, ConfigurationError
from consumer.failures.dead_letters import HEADER_PREFIX, original_header_name
from consumer.kafka import record_batches
from consumer.kafka.connection import client_arguments, consumer_arguments
from consumer.operations.logs import configure_logging
from consumer.payloads.encoders import UndecodedRefusingEncoder, encoder_for
from consumer.records import (
    KafkaRecord,
    RecordEncoder,
    UndeliverableRecord,
    unreadable_reason,
)
from consumer.redrive.letters import (
    Candidate,
    Selection,
    Unreadable,
    read_letter,
)
from consumer.redrive.queue_source import open_queue_source
from consumer.schemas.record_decoding import RecordDecoding
from consumer.schemas.setup import open_schema_decoding
from consumer.settings.failures import DlqLocation, parse_dlq
from consumer.settings.model import BridgeSettings, load_settings
from consumer.settings.usage import settings_help

REDRIVEN = "redriven/"
_NO_DLQ = (
    "DLQ is not set: redrive reads the dead letters it names (s3://bucket/prefix, "
    "file://directory, kafka://topic, an SQS queue, or an SNS topic through --from-queue). "
    "Run it with the bridge's own environment."
)
DEFAULT_WAIT_S = 5  # an SQS DLQ: a receive that waited this long and brought nothing ends it
_TRANSIENT_ATTEMPTS = 5  # throttles and 5xx are retried this often before a record is reported


class Redrive:
    def __init__(
        self,
        settings: BridgeSettings,
        invoker: LambdaInvoker,
        dry_run: bool,
        schemas: RecordDecoding[Any] | None = None,
    ) -> None:
        self._settings = settings
        self._invoker = invoker
        self._dry_run = dry_run
        self._schemas = schemas  # a dead letter keeps the bytes as fetched: decode them again
        self._encoders: dict[str, RecordEncoder] = {}  # by the bootstrap servers they name
        # For dead letters written before they named their bootstrap servers.
        given = settings.kafka_bootstrap_servers
        self._bootstrap_servers = "" if given == _BOOTSTRAP_STAND_IN else given
        self._backoff = settings.retry_backoff
        self.delivered = self.failed = 0
        self.listed = 0  # a dry run's: what it would have sent

    async def send(self, candidate: Candidate) -> bool:
        record = candidate.record
        line: dict[str, Any] = {
            "where": candidate.where,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
        }
        if self._dry_run:
            self.listed += 1
            _report({**line, "result": "would redrive"})
            return True
        servers = candidate.bootstrap_servers or self._bootstrap_servers
        outcome, error = await self._invoke(record, self._encoder(servers))
        if outcome is Outcome.DELIVERED:
            await candidate.settle()
            self.delivered += 1
            _report({**line, "result": "delivered"})
            return True
        self.failed += 1
        _report({**line, "result": "failed", "error": error})
        return False

    def report_unreadable(self, letter: Unreadable) -> None:
        self.failed += 1
        _report({"where": letter.where, "result": "unreadable", "error": letter.reason})

    async def send_or_report(self, candidate: Candidate | Unreadable) -> None:
        if isinstance(candidate, Unreadable):
            self.report_unreadable(candidate)
        else:
            await self.send(candidate)

    def _encoder(self, bootstrap_servers: str) -> RecordEncoder:
        """The native event names the cluster: one encoder per cluster the letters name."""
        if bootstrap_servers not in self._encoders:
            encoder = encoder_for(self._settings.payload_format, bootstrap_servers)
            if self._schemas is not None:
                encoder = UndecodedRefusingEncoder(encoder)
            self._encoders[bootstrap_servers] = encoder
        return self._encoders[bootstrap_servers]

    async def _invoke(
        self, record: KafkaRecord, encoder: RecordEncoder
    ) -> tuple[Outcome, str | None]:
        if self._schemas is not None:
            # Its schemas (retried until the registry answers, as the bridge does), then a part
            # too large to decode on the event loop: each round may name what the next needs.
            while needed := self._schemas.refs([record]):
                await self._schemas.resolve(needed)
            decoded = self._schemas.decode_all([record])
            assert isinstance(decoded, list), "resolved just now"
            record = decoded[0]
        try:
            fragment = encoder.encode_record(record)
        except UndeliverableRecord as undeliverable:
            return Outcome.FATAL, f"Undeliverable: {undeliverable.reason}"
        except Exception as error:  # as in the bridge's lanes: one record never stops the run
            return Outcome.FATAL, f"Undeliverable: {unreadable_reason(error)}"
        payload = encoder.assemble(record.topic, record.partition, [fragment])
        for attempt in range(1, _TRANSIENT_ATTEMPTS + 1):
            result = await self._invoker.invoke(payload)
            if result.outcome is Outcome.DELIVERED and result.failed_item_ids:
                return Outcome.FUNCTION_ERROR, "the function reported the record failed"
            if result.outcome not in (Outcome.THROTTLED, Outcome.RETRYABLE):
                return result.outcome, f"{result.error_type}: {result.error_message}"
            await asyncio.sleep(self._backoff.delay_s(attempt))
        return Outcome.RETRYABLE, f"{result.error_type}: {result.error_message}"


def _report(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


async def s3_candidates(
    client: Any, location: DlqLocation, selection: Selection
) -> AsyncIterator[Candidate | Unreadable]:
    bucket, prefix = location.target, location.prefix
    paginator = client.get_paginator("list_objects_v2")
    async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key: str = item["Key"]
            if key[len(prefix) :].count("/") != 2:
                continue  # redriven already (four parts), or not a dead letter
            body = await (await client.get_object(Bucket=bucket, Key=key))["Body"].read()
            read = read_letter(body, f"s3://{bucket}/{key}")
            if isinstance(read, Unreadable):
                yield read
                continue
            record, dead_lettered_at, servers = read
            if not selection.takes(record, dead_lettered_at):
                continue

            async def move_aside(key: str = key) -> None:
                aside = prefix + REDRIVEN + key[len(prefix) :]
                await client.copy_object(
                    Bucket=bucket, Key=aside, CopySource={"Bucket": bucket, "Key": key}
                )
                await client.delete_object(Bucket=bucket, Key=key)

            yield Candidate(record, f"s3://{bucket}/{key}", move_aside, servers)


def _dead_letter_files(directory: str) -> tuple[Path, list[Path]]:
    """The directory, and its dead-letter files in key order (topic, partition, offset),
    leaving out those already redriven and unfinished writes (".partial")."""
    root = Path(directory).absolute()
    # Three parts (topic, partition, file): the redriven ones, moved under redriven/, have four.
    files = [path for path in sorted(root.glob("*/*/*.json")) if not path.name.startswith(".")]
    return root, files


def _move_aside(root: Path, path: Path) -> None:
    aside = root / REDRIVEN / path.relative_to(root)
    aside.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, aside)


async def file_candidates(
    location: DlqLocation, selection: Selection
) -> AsyncIterator[Candidate | Unreadable]:
    root, files = await asyncio.to_thread(_dead_letter_files, location.target)
    for path in files:
        read = read_letter(await asyncio.to_thread(path.read_bytes), f"file://{path}")
        if isinstance(read, Unreadable):
            yield read
            continue
        record, dead_lettered_at, servers = read
        if not selection.takes(record, dead_lettered_at):
            continue
        settle = functools.partial(asyncio.to_thread, _move_aside, root, path)
        yield Candidate(record, f"file://{path}", settle, servers)


def _record_from_dead_letter(letter: ConsumerRecord[bytes, bytes]) -> tuple[KafkaRecord, datetime]:
    added = {
        name[len(HEADER_PREFIX) :]: value.decode()
        for name, value in letter.headers
        if name.startswith(HEADER_PREFIX) and original_header_name(name) is None
    }
    original = ConsumerRecord(
        topic=added["source.topic"],
        partition=int(added["source.partition"]),
        offset=int(added["source.offset"]),
        timestamp=int(added["source.timestamp"]),
        timestamp_type=0,
        key=letter.key,
        value=letter.value,
        checksum=None,
        serialized_key_size=letter.serialized_key_size,
        serialized_value_size=letter.serialized_value_size,
        headers=[
            (original_header_name(n) or n, v)
            for n, v in letter.headers
            if not n.startswith(HEADER_PREFIX) or original_header_name(n) is not None
        ],
    )
    return original, datetime.fromisoformat(added["last.attempt.at"])


async def redrive_kafka(
    settings: BridgeSettings, location: DlqLocation, selection: Selection, redrive: Redrive
) -> None:
    arguments = {**consumer_arguments(settings), "auto_offset_reset": "earliest"}
    arguments["group_id"] = f"{settings.kafka_group_id}.redrive"
    record_batches.install()  # a record the Kafka client cannot parse fails no fetch
    reader = AIOKafkaConsumer(**arguments)
    await reader.start()
    try:
        partitions = await _partitions(settings, location.target)
        reader.assign(partitions)
        ends = await reader.end_offsets(partitions)
        for partition in partitions:
            await _redrive_partition(reader, partition, ends[partition], selection, redrive)
    finally:
        await reader.stop()


async def _partitions(settings: BridgeSettings, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**client_arguments(settings))
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(TopicPartition(topic, p["partition"]) for p in described["partitions"])


async def _redrive_partition(
    reader: AIOKafkaConsumer,
    partition: TopicPartition,
    end: int,
    selection: Selection,
    redrive: Redrive,
) -> None:
    # A record the selection passes over stays for a later run, so once one is passed
    # over the group offset of this partition must not move past it.
    passed_over = False
    while await reader.position(partition) < end:
        fetched = await reader.getmany(partition, timeout_ms=5000)
        for letter in fetched.get(partition, []):
            if letter.offset >= end:
                return
            where = f"kafka://{partition.topic}/{partition.partition}@{letter.offset}"
            try:
                record, dead_lettered_at = _record_from_dead_letter(letter)
            except Exception as error:  # not a letter the bridge wrote: it stops this partition
                reason = f"not a dead letter the bridge wrote ({type(error).__name__})"
                redrive.report_unreadable(Unreadable(where, reason))
                return  # as after a failure: what follows waits, nothing is skipped
            if not selection.takes(record, dead_lettered_at):
                passed_over = True
                continue
            commit = (
                _nothing
                if passed_over
                else functools.partial(
                    reader.commit, {partition: OffsetAndMetadata(letter.offset + 1, "")}
                )
            )
            if not await redrive.send(Candidate(record, where, commit)):
                return  # what follows in this partition waits for the next run


async def _nothing() -> None:
    pass


async def run(
    settings: BridgeSettings,
    selection: Selection,
    dry_run: bool,
    from_queue: str | None = None,
    wait_s: int = DEFAULT_WAIT_S,
) -> int:
    if settings.dlq is None:
        raise ConfigurationError(_NO_DLQ)
    location = parse_dlq(settings.dlq)
    async with AsyncExitStack() as resources:
        invoker = await resources.enter_async_context(LambdaInvoker(settings))
        schemas = None
        if not dry_run:
            await invoker.check_invokable()
            schemas = await open_schema_decoding(settings, resources)
        redrive = Redrive(settings, invoker, dry_run, schemas)
        if location.scheme == "kafka":
            await redrive_kafka(settings, location, selection, redrive)
        elif location.scheme == "file":
            async for candidate in file_candidates(location, selection):
                await redrive.send_or_report(candidate)
        elif location.scheme in ("sqs", "sns"):
            queue = await open_queue_source(settings, location, from_queue, wait_s, resources)
            try:
                async for candidate in queue.candidates(selection):
                    await redrive.send_or_report(candidate)
            finally:
                await queue.release_left()
        else:
            client = await open_client(
                resources, "s3", settings, endpoint_url=settings.s3_endpoint_url
            )
            async for candidate in s3_candidates(client, location, selection):
                await redrive.send_or_report(candidate)
    if dry_run:
        _report({"summary": True, "dry_run": True, "would_redrive": redrive.listed})
    else:
        _report({"summary": True, "delivered": redrive.delivered, "failed": redrive.failed})
    return 0 if redrive.failed == 0 else 1


# What the bridge requires to read Kafka, and an S3 or file DLQ is read without: stand-ins
# for those not given, so that users need not invent them. Nothing connects to them: the
# native event's bootstrap servers come from each dead letter (or the setting, if given).
_BOOTSTRAP_STAND_IN = "kafka.invalid:9092"  # .invalid never resolves (RFC 2606)
_KAFKA_STAND_INS = {
    "KAFKA_BOOTSTRAP_SERVERS": _BOOTSTRAP_STAND_IN,
    "KAFKA_TOPIC": "not-read-by-redrive",
    "KAFKA_GROUP_ID": "not-read-by-redrive",
}


def _without_kafka_if_unread(environ: Mapping[str, str]) -> dict[str, str]:
    try:
        scheme = parse_dlq(environ["DLQ"].strip()).scheme
    except ValueError:
        return dict(environ)  # the settings' own check words the problem
    if scheme == "kafka":
        return dict(environ)
    given = dict(environ)
    for name, stand_in in _KAFKA_STAND_INS.items():
        if not given.get(name, "").strip() and not (
            name == "KAFKA_TOPIC" and given.get("KAFKA_TOPIC_PATTERN", "").strip()
        ):
            given[name] = stand_in
    return given


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time: write e.g. 2026-12-01T09:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, e.g. {text}Z")
    return moment


def _wait_seconds(text: str) -> int:
    if not text.isdigit() or int(text) > 20:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole seconds from 0 to 20")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m consumer.redrive",
        description=(
            "Send dead-lettered records to the function again: the records DLQ names, with\n"
            "the bridge's own settings (the function, the payload format, and for a\n"
            "kafka:// DLQ the cluster; an s3:// or file:// DLQ is read without Kafka)."
        ),
        epilog=settings_help(
            {name: "with a kafka:// DLQ" for name in _KAFKA_STAND_INS if name != "KAFKA_TOPIC"}
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dry-run", action="store_true", help="list, send nothing")
    parser.add_argument("--since", type=_moment, help="dead-lettered at or after (ISO-8601)")
    parser.add_argument("--until", type=_moment, help="dead-lettered at or before (ISO-8601)")
    parser.add_argument(
        "--partition", type=int, action="append", default=[], help="source partition (repeat)"
    )
    parser.add_argument(
        "--from-queue",
        metavar="QUEUE",
        help="an SNS DLQ: the SQS queue (URL or ARN) subscribed to its topic, to read from",
    )
    parser.add_argument(
        "--wait-seconds",
        type=_wait_seconds,
        default=DEFAULT_WAIT_S,
        help=f"an SQS queue: the long poll (0-20 s) whose empty answer ends the run "
        f"(default {DEFAULT_WAIT_S})",
    )
    options = parser.parse_args(argv)
    configure_logging("WARNING")
    selection = Selection(options.since, options.until, frozenset(options.partition))
    if not os.environ.get("DLQ", "").strip():  # said first: without it nothing else matters
        logging.getLogger("consumer.redrive").error(_NO_DLQ)
        return ConfigurationError.exit_code
    try:
        settings = load_settings(_without_kafka_if_unread(os.environ))
        configure_logging("WARNING", settings.secret_values)
        return asyncio.run(
            run(settings, selection, options.dry_run, options.from_queue, options.wait_seconds)
        )
    except BridgeError as error:
        logging.getLogger("consumer.redrive").error(str(error))
        return error.exit_code
