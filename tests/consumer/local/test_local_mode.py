"""`python -m consumer.local` as a user runs it: a subprocess, its output, its exit code."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from consumer.errors import ConfigurationError
from consumer.local.tansu import TansuBroker
from consumer.settings.model import load_settings
from tests.support.bridge_harness import REPO
from tests.support.kafka_fixtures import KafkaUnderTest
from tests.support.kafka_records import KafkaTestClient, TestRecord

RUN_TIMEOUT_S = 180

# A handler that appends "<partition> <offset>" for every record it takes to $RECEIVED_FILE.
RECORDING_HANDLER = """
import os
import threading

_lock = threading.Lock()
_received = open(os.environ["RECEIVED_FILE"], "a")


def handler(event, context):
    lines = [
        f"{record['partition']} {record['offset']}\\n"
        for records in event["records"].values()
        for record in records
    ]
    with _lock:
        _received.writelines(lines)
        _received.flush()
    return {"batchItemFailures": []}
"""


def on_the_test_broker(kafka: KafkaUnderTest, topic: str) -> tuple[str, ...]:
    """The options that point a run at the suite's broker and a topic of the test's own."""
    return ("--bootstrap", kafka.bootstrap, "--topic", topic)


def example(name: str) -> str:
    """`--handler` for one of examples/, by an absolute path: a run's directory is its own."""
    return f"{REPO / 'examples' / name}.py:handler"


@dataclass
class Finished:
    exit_code: int
    out: str
    err: str

    def number(self, row: str) -> int:
        """A number of the summary, e.g. number("delivered")."""
        found = re.search(rf"^  {row}\s+([\d,]+)", self.out, re.MULTILINE)
        assert found, f"no {row!r} row in the summary:\n{self.out}"
        return int(found.group(1).replace(",", ""))


def environment(**extra: str) -> dict[str, str]:
    # No TTY, no AWS keys: the command must provide what botocore needs itself.
    keep = ("PATH", "HOME", "LANG")
    return {
        **{name: os.environ[name] for name in keep if name in os.environ},
        "PYTHONPATH": str(REPO),
        **extra,
    }


async def start(*arguments: str, cwd: Path, **env: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer.local",
        *arguments,
        cwd=cwd,
        env=environment(**env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run(*arguments: str, cwd: Path, **env: str) -> Finished:
    async with running(*arguments, cwd=cwd, **env) as command:
        return await command.finish()


@asynccontextmanager
async def running(*arguments: str, cwd: Path, **env: str) -> AsyncIterator[LineReader]:
    """The command, killed if the test ends before it does (its broker dies with it)."""
    process = await start(*arguments, cwd=cwd, **env)
    try:
        yield LineReader(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.communicate()


class LineReader:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def until(self, pattern: str) -> re.Match[str]:
        """Reads output lines until one matches `pattern`."""
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), RUN_TIMEOUT_S)
            if not line:
                raise AssertionError(f"exited before {pattern!r}; output:\n{''.join(self.lines)}")
            self.lines.append(line.decode())
            if found := re.search(pattern, self.lines[-1]):
                return found

    async def finish(self) -> Finished:
        out, err = await asyncio.wait_for(self.process.communicate(), RUN_TIMEOUT_S)
        assert self.process.returncode is not None
        return Finished(self.process.returncode, "".join(self.lines) + out.decode(), err.decode())


def children_of(pid: int) -> set[int]:
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # it exited meanwhile
            # The fields after the command name, which is in parentheses: state, ppid, ...
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                children.add(int(entry.name))
    return children


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def received(path: Path) -> Counter[tuple[int, int]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return Counter((int(p), int(o)) for p, o in (line.split() for line in lines))


def json_lines(output: str) -> list[str]:
    """The lines of `output` that are JSON, as production's log lines are."""
    found = []
    for line in output.splitlines():
        try:
            json.loads(line)
        except ValueError:
            if not line.lstrip().startswith("{"):
                continue
        found.append(line)
    return found


async def test_five_thousand_records_drain_through_the_embedded_broker_as_the_summary_says(
    tmp_path: Path,
) -> None:
    (tmp_path / "recording.py").write_text(RECORDING_HANDLER)
    received_file = tmp_path / "received.txt"

    finished = await run(
        "--handler",
        "recording.py:handler",
        "--produce",
        "5000",
        "--until-drained",
        cwd=tmp_path,
        RECEIVED_FILE=str(received_file),
    )

    assert finished.exit_code == 0, finished.out + finished.err
    assert re.search(r"^broker\s+Tansu on 127\.0\.0\.1:\d+ \(pid \d+\)", finished.out, re.M)
    assert "drained after" in finished.out
    taken = received(received_file)
    assert len(taken) == 5000, "every record reached the handler"
    assert finished.number("delivered") == len(taken)
    assert finished.number("duplicates") == sum(1 for n in taken.values() if n > 1)
    assert finished.number("dead-lettered") == 0
    assert finished.err == ""


async def test_the_sample_run_has_no_json_line_and_reports_its_dead_letter_in_words(
    tmp_path: Path,
) -> None:
    """`make local`'s run. The bridge's JSON log lines (the dead letter's, Tansu's missing
    commit metadata) used to land between the progress lines and the summary."""
    finished = await run(
        "--handler",
        example("failing_handler"),
        "--produce",
        "2000",
        "--poison",
        "1",
        "--until-drained",
        cwd=tmp_path,
    )

    assert finished.exit_code == 0, finished.out + finished.err
    assert json_lines(finished.out + finished.err) == []
    assert "handler   raised PoisonRecordError: record local-records-" in finished.out
    assert finished.number("dead-lettered") == 1
    [letter] = (tmp_path / "dead-letters").glob("*/*/*.json")
    assert f"dead-lettered          1   {letter.relative_to(tmp_path)}\n" in finished.out


async def test_until_the_group_assigns_partitions_the_start_says_what_it_waits_for(
    tmp_path: Path,
) -> None:
    """Tansu takes about 5 s to form the group; the line used to count 0 records meanwhile."""
    async with running(
        "--produce", "200", "--partitions", "4", "--until-drained", cwd=tmp_path
    ) as command:
        await command.until(r"^running ")
        await command.until(
            r"^ +[\d.]+ s  joining the consumer group kafka-to-lambda-local, "
            r"waiting for its partitions…$"
        )
        await command.until(
            r"^group     kafka-to-lambda-local joined: 4 partitions assigned "
            r"\(local-records 0-3\)$"
        )
        before_the_partitions = list(command.lines)
        await command.until(r"^ +[\d.]+ s  [\d,]+/200 done")
        finished = await command.finish()

    assert finished.exit_code == 0, finished.out + finished.err
    assert not [line for line in before_the_partitions if "/200 done" in line]


async def test_the_bridges_log_lines_are_words_at_the_level_asked_for(
    tmp_path: Path, kafka: KafkaUnderTest, topic_name: str
) -> None:
    finished = await run(
        *on_the_test_broker(kafka, topic_name),
        "--partitions",
        "2",
        "--produce",
        "20",
        "--until-drained",
        "--set",
        "LOG_LEVEL=INFO",
        cwd=tmp_path,
    )

    assert finished.exit_code == 0, finished.out + finished.err
    assert re.search(
        rf"^info      partitions assigned \(kept 0; .*arrived {topic_name}-0, {topic_name}-1;",
        finished.out,
        re.M,
    ), finished.out
    assert json_lines(finished.out + finished.err) == []


async def test_with_log_json_the_bridges_lines_are_as_production_writes_them(
    tmp_path: Path, kafka: KafkaUnderTest, topic_name: str
) -> None:
    finished = await run(
        *on_the_test_broker(kafka, topic_name),
        "--partitions",
        "2",
        "--handler",
        example("failing_handler"),
        "--produce",
        "50",
        "--poison",
        "1",
        "--until-drained",
        "--set",
        "MAX_RETRIES=0",
        "--log-json",
        cwd=tmp_path,
    )

    assert finished.exit_code == 0, finished.out + finished.err
    logged = [json.loads(line) for line in json_lines(finished.out)]
    [letter] = [line for line in logged if line["message"] == "record dead-lettered"]
    assert (letter["level"], letter["topic"], letter["error_type"]) == (
        "WARNING",
        topic_name,
        "PoisonRecordError",
    )


async def test_the_failing_example_puts_the_marker_record_in_the_dead_letter_directory(
    tmp_path: Path, kafka: KafkaUnderTest, topic_name: str
) -> None:
    finished = await run(
        *on_the_test_broker(kafka, topic_name),
        "--partitions",
        "4",
        "--handler",
        example("failing_handler"),
        "--produce",
        "400",
        "--poison",
        "1",
        "--until-drained",
        "--local-dlq",
        "letters",
        "--set",
        "MAX_RETRIES=1",
        "--set",
        "RETRY_BACKOFF_BASE_MS=1",
        cwd=tmp_path,
    )

    assert finished.exit_code == 0, finished.out + finished.err
    ((path),) = (tmp_path / "letters" / topic_name).glob("*/*.json")
    document = json.loads(path.read_text())
    assert b'"marker": "poison"' in base64.b64decode(document["record"]["value"])
    assert document["error"]["type"] == "PoisonRecordError"
    assert document["functionName"] == "failing_handler"
    assert (finished.number("dead-lettered"), finished.number("delivered")) == (1, 399)
    assert str(path.relative_to(tmp_path)) in finished.out, "the summary names the file"


async def test_a_kafka_dead_letter_topic_is_created_for_a_local_run(
    tmp_path: Path, kafka: KafkaUnderTest, topic_name: str
) -> None:
    dead = f"{topic_name}-dead"
    finished = await run(
        *on_the_test_broker(kafka, topic_name),
        "--partitions",
        "4",
        "--handler",
        example("failing_handler"),
        "--produce",
        "100",
        "--poison",
        "1",
        "--until-drained",
        "--set",
        f"DLQ=kafka://{dead}",
        "--set",
        "MAX_RETRIES=1",
        "--set",
        "RETRY_BACKOFF_BASE_MS=1",
        cwd=tmp_path,
    )

    assert finished.exit_code == 0, finished.out + finished.err
    assert f"dlq       {dead}: created, 4 partitions" in finished.out
    assert finished.number("dead-lettered") == 1
    reader = AIOKafkaConsumer(dead, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest")
    await reader.start()
    try:
        fetched = await reader.getmany(timeout_ms=10_000)
    finally:
        await reader.stop()
    [letter] = [record for records in fetched.values() for record in records]
    assert b'"marker": "poison"' in letter.value


async def test_the_answering_example_answers_every_record_on_a_topic_made_for_the_run(
    tmp_path: Path, kafka: KafkaUnderTest, topic_name: str
) -> None:
    answers = f"{topic_name}-answers"
    finished = await run(
        *on_the_test_broker(kafka, topic_name),
        "--partitions",
        "2",
        "--handler",
        example("answering_handler"),
        "--produce",
        "200",
        "--until-drained",
        "--set",
        f"RESPONSE_TOPIC=kafka://{answers}",
        cwd=tmp_path,
    )

    assert finished.exit_code == 0, finished.out + finished.err
    assert f"answers   {answers}: created, 2 partitions" in finished.out
    assert finished.number("answers") == 200
    reader = AIOKafkaConsumer(
        answers, bootstrap_servers=kafka.bootstrap, auto_offset_reset="earliest"
    )
    await reader.start()
    try:
        found: list[tuple[bytes | None, bytes | None]] = []
        for _ in range(40):  # each fetch waits up to a second for records
            fetched = await reader.getmany(timeout_ms=1000)
            found += [(r.key, r.value) for records in fetched.values() for r in records]
            if len(found) >= 200:
                break
    finally:
        await reader.stop()
    assert len(found) == 200
    assert {key for key, _ in found} <= {f"key-{k}".encode() for k in range(200)}
    assert all(json.loads(value or b"")["length"] > 0 for _, value in found)


async def test_records_from_a_file_reach_the_legacy_example_as_its_print_shows(
    tmp_path: Path, kafka: KafkaUnderTest, topic_name: str
) -> None:
    lines = [
        {"key": "a", "value": {"n": 1}},
        {"key": None, "value": {"n": 2}},
        {"value": {"n": 3}},
    ]
    source = tmp_path / "records.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))

    finished = await run(
        *on_the_test_broker(kafka, topic_name),
        "--handler",
        example("legacy_handler"),
        "--from-file",
        str(source),
        "--set",
        "PAYLOAD_FORMAT=legacy",
        "--until-drained",
        cwd=tmp_path,
    )

    assert finished.exit_code == 0, finished.out + finished.err
    assert "produced  3 records" in finished.out
    assert re.search(r"^legacy_handler: first record .*value n=\d", finished.out, re.M)
    assert finished.number("delivered") == 3
    assert "PAYLOAD_FORMAT=legacy" in finished.out


# A handler that appends, for every record it takes, what it got as a JSON line to
# $RECEIVED_FILE: key, headers (decoded; null for one without a value), value size or null.
DESCRIBING_HANDLER = """
import base64
import json
import os
import threading

_lock = threading.Lock()
_received = open(os.environ["RECEIVED_FILE"], "a")


def handler(event, context):
    lines = []
    for records in event["records"].values():
        for record in records:
            value = record.get("value")
            lines.append(json.dumps({
                "key": base64.b64decode(record["key"]).decode(),
                "headers": [
                    [name, None if data is None else bytes(b % 256 for b in data).decode()]
                    for header in record["headers"]
                    for name, data in header.items()
                ],
                "value_bytes": None if value is None else len(base64.b64decode(value)),
            }) + "\\n")
    with _lock:
        _received.writelines(lines)
        _received.flush()
    return {"batchItemFailures": []}
"""


async def test_file_records_carry_headers_and_tombstones_and_large_values_through_tansu(
    tmp_path: Path,
) -> None:
    """Each kind of record --from-file takes, on the embedded broker: headers (one without a
    value, a repeated name), a tombstone, a 2 MiB value, and a 7 MiB one, which the broker
    takes and the bridge dead-letters, as no Lambda invocation can carry it."""
    (tmp_path / "describing.py").write_text(DESCRIBING_HANDLER)
    received_file = tmp_path / "received.jsonl"
    lines = [
        {"key": "h", "value": {"n": 1}, "headers": {"trace": "abc", "empty": None}},
        {"key": "r", "value": {"n": 2}, "headers": [{"hop": "1"}, {"hop": "2"}]},
        {"key": "t", "value": None},
        {"key": "two", "value": "m" * (2 * 1024 * 1024)},
        {"key": "seven", "value": "s" * (7 * 1024 * 1024)},
    ]
    source = tmp_path / "records.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))

    finished = await run(
        "--handler",
        "describing.py:handler",
        "--from-file",
        str(source),
        "--until-drained",
        cwd=tmp_path,
        RECEIVED_FILE=str(received_file),
    )

    assert finished.exit_code == 0, finished.out + finished.err
    assert finished.out.index("producing 0/5 records") < finished.out.index("produced  5 records")
    taken = {
        entry["key"]: entry for entry in map(json.loads, received_file.read_text().splitlines())
    }
    assert taken == {
        "h": {"key": "h", "headers": [["trace", "abc"], ["empty", None]], "value_bytes": 8},
        "r": {"key": "r", "headers": [["hop", "1"], ["hop", "2"]], "value_bytes": 8},
        "t": {"key": "t", "headers": [], "value_bytes": None},
        "two": {"key": "two", "headers": [], "value_bytes": 2 * 1024 * 1024 + 2},
    }
    assert (finished.number("delivered"), finished.number("dead-lettered")) == (4, 1)
    [letter_file] = (tmp_path / "dead-letters").glob("*/*/*.json")
    letter = json.loads(letter_file.read_text())
    assert letter["error"]["type"] == "Undeliverable"
    assert "over the 6291456-byte limit of one invocation" in letter["error"]["message"]
    assert len(base64.b64decode(letter["record"]["value"])) == 7 * 1024 * 1024 + 2


async def test_a_record_too_large_for_an_apache_kafka_broker_names_the_limit_that_applies(
    tmp_path: Path, kafka: KafkaUnderTest, topic_name: str
) -> None:
    source = tmp_path / "records.jsonl"
    source.write_text(json.dumps({"value": "x" * (2 * 1024 * 1024)}) + "\n")

    finished = await run(
        *on_the_test_broker(kafka, topic_name),
        "--from-file",
        str(source),
        cwd=tmp_path,
    )

    assert finished.exit_code == 3, finished.out + finished.err
    assert finished.err == (
        f"error: could not produce to {topic_name}: the broker at --bootstrap {kafka.bootstrap} "
        "refused a record as too large. Apache Kafka takes about 1 MB per record unless the "
        "broker's message.max.bytes (or the topic's max.message.bytes) is raised; the embedded "
        "broker (without --bootstrap) takes records up to 33,554,432 bytes\n"
    )


# The record at offset 16 takes two seconds: the group's commits pass offset 11 long before.
SLOW_TAIL_HANDLER = """
import time


def handler(event, context):
    for records in event["records"].values():
        for record in records:
            if record["offset"] == 16:
                time.sleep(2)
    return {"batchItemFailures": []}
"""


async def test_against_a_tansu_broker_the_run_is_drained_only_past_the_last_record(
    tmp_path: Path,
) -> None:
    """Tansu lists a partition's end as one past its last batch's first offset (11 here,
    for batches at 0-9 and 10-16); a run resumed on records already there used to be
    "drained" once the commits passed that offset, records early."""
    broker = TansuBroker(tmp_path / "tansu.log")
    await broker.start()
    try:
        client = KafkaTestClient(broker.bootstrap)
        await client.create_topic("resumed", partitions=1)
        for count in (10, 7):  # one producer batch each: a producer sends them together
            await client.produce("resumed", [TestRecord(b"x", partition=0)] * count)
        (tmp_path / "slow_tail.py").write_text(SLOW_TAIL_HANDLER)

        finished = await run(
            "--bootstrap",
            broker.bootstrap,
            "--topic",
            "resumed",
            "--handler",
            "slow_tail.py:handler",
            "--set",
            "BATCH_SIZE=1",
            "--set",
            "COMMIT_INTERVAL_MS=50",
            "--until-drained",
            cwd=tmp_path,
        )
    finally:
        broker.stop()

    assert finished.exit_code == 0, finished.out + finished.err
    assert "topic     resumed: exists, 1 partition\n" in finished.out
    [*_, last_progress] = re.findall(r"^ +\d+\.\d s .*$", finished.out, re.M)
    assert re.search(r" 17 done .* lag 0 ", last_progress), last_progress


@pytest.mark.parametrize(
    ("payload_format", "example", "dead_lettered"),
    [
        ("legacy", "legacy_handler", 0),
        ("value", "value_handler", 1),  # a tombstone is no JSON payload: dead-lettered
    ],
)
async def test_without_handler_the_example_for_the_payload_format_takes_every_value(
    tmp_path: Path,
    kafka: KafkaUnderTest,
    topic_name: str,
    payload_format: str,
    example: str,
    dead_lettered: int,
) -> None:
    """The native example's KeyError: 'records' used to dead-letter every value payload."""
    source = tmp_path / "records.jsonl"
    lines = [{"value": v} for v in ("hello", 42, [1, None], {"n": 4})] + [
        {"key": "gone", "value": None}
    ]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))

    finished = await run(
        *on_the_test_broker(kafka, topic_name),
        "--from-file",
        str(source),
        "--set",
        f"PAYLOAD_FORMAT={payload_format}",
        "--until-drained",
        cwd=tmp_path,
    )

    assert finished.exit_code == 0, finished.out + finished.err
    assert f"function  {example} = examples/{example}.py:handler" in finished.out
    assert (finished.number("delivered"), finished.number("dead-lettered")) == (
        5 - dead_lettered,
        dead_lettered,
    )
    assert "handler   raised" not in finished.out


async def test_a_handler_slower_than_three_seconds_runs_with_a_longer_function_timeout(
    tmp_path: Path, kafka: KafkaUnderTest, topic_name: str
) -> None:
    slow = tmp_path / "slow.py"
    slow.write_text("import time\n\ndef handler(event, context):\n    time.sleep(3.5)\n")
    source = tmp_path / "one.jsonl"
    source.write_text('{"value": 1}\n')

    finished = await run(
        *on_the_test_broker(kafka, topic_name),
        "--handler",
        f"{slow}:handler",
        "--from-file",
        str(source),
        "--function-timeout",
        "10",
        "--until-drained",
        cwd=tmp_path,
    )

    assert finished.exit_code == 0, finished.out + finished.err
    assert (finished.number("delivered"), finished.number("function errors")) == (1, 0)
    assert "Timedout" not in finished.out


# A handler that appends the "n" of every record's JSON value to $RECEIVED_FILE.
N_RECORDING_HANDLER = """
import base64
import json
import os

def handler(event, context):
    with open(os.environ["RECEIVED_FILE"], "a") as received:
        for records in event["records"].values():
            for record in records:
                received.write(f"{json.loads(base64.b64decode(record['value']))['n']}\\n")
    return {"batchItemFailures": []}
"""


async def test_filter_patterns_set_locally_deliver_the_matching_records_and_count_the_rest(
    tmp_path: Path, kafka: KafkaUnderTest, topic_name: str
) -> None:
    kinds = ["allele", "gene", "gene", "haplotype"]
    lines = [{"key": f"v{n % 5}", "value": {"type": kinds[n % 4], "n": n}} for n in range(40)]
    source = tmp_path / "records.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    (tmp_path / "recording.py").write_text(N_RECORDING_HANDLER)
    received_file = tmp_path / "received.txt"

    finished = await run(
        *on_the_test_broker(kafka, topic_name),
        "--handler",
        "recording.py:handler",
        "--from-file",
        str(source),
        "--set",
        'FILTER_PATTERNS=[{"value": {"type": ["allele", "haplotype"]}}]',
        "--until-drained",
        cwd=tmp_path,
        RECEIVED_FILE=str(received_file),
    )

    assert finished.exit_code == 0, finished.out + finished.err
    expected = sorted(line["value"]["n"] for line in lines if line["value"]["type"] != "gene")
    assert sorted(int(n) for n in received_file.read_text().split()) == expected
    assert finished.number("delivered") == len(expected)
    assert finished.number("filtered") == len(lines) - len(expected)
    assert re.search(rf"{len(lines)} records done", finished.out), "filtered records are done"
    assert re.search(r"dead-lettered \d+  filtered \d+$", finished.out, re.M), "progress line"


async def test_the_local_dead_letters_are_redriven_to_the_fixed_handler_as_the_docs_say(
    tmp_path: Path, kafka: KafkaUnderTest, topic_name: str
) -> None:
    """docs/failures-and-redrive.md's recipe: a local run dead-letters the poison record; a
    second run serves the fixed handler; redrive, given the DLQ, the function and its
    endpoint (no Kafka settings), sends the dead letter to it and moves the file aside."""
    failing = await run(
        *on_the_test_broker(kafka, topic_name),
        "--handler",
        example("failing_handler"),
        "--produce",
        "50",
        "--poison",
        "1",
        "--set",
        "MAX_RETRIES=0",
        "--until-drained",
        cwd=tmp_path,
    )
    assert failing.number("dead-lettered") == 1, failing.out + failing.err

    async with running(*on_the_test_broker(kafka, topic_name), cwd=tmp_path) as serving:
        function = await serving.until(r"^function  (\S+) = .* at (http://\S+)$")
        await serving.until(r"^running ")
        redrive = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "consumer.redrive",
            cwd=tmp_path,
            env=environment(
                DLQ="file://dead-letters",
                LAMBDA_FUNCTION_NAME=function.group(1),
                LAMBDA_ENDPOINT_URL=function.group(2),
                AWS_REGION="us-east-1",
                AWS_ACCESS_KEY_ID="local",
                AWS_SECRET_ACCESS_KEY="local",
            ),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(redrive.communicate(), RUN_TIMEOUT_S)
        serving.process.send_signal(signal.SIGINT)
        served = await serving.finish()

    assert (redrive.returncode, err) == (0, b""), out
    assert json.loads(out.splitlines()[-1]) == {"summary": True, "delivered": 1, "failed": 0}
    assert served.exit_code == 0, served.out + served.err
    assert list((tmp_path / "dead-letters").glob(f"{topic_name}/*/*.json")) == []
    assert len(list((tmp_path / "dead-letters" / "redriven").glob("*/*/*.json"))) == 1


async def test_ctrl_c_mid_run_stops_cleanly_and_leaves_no_child_process(tmp_path: Path) -> None:
    # At most 40 invocations of 10 records in flight, 0.2 s each: 2,000 records/s at most,
    # so 20,000 records are far from done when the first are.
    (tmp_path / "slow.py").write_text(
        "import time\n\ndef handler(event, context):\n    time.sleep(0.2)\n"
    )
    async with running(
        "--handler",
        "slow.py:handler",
        "--produce",
        "20000",
        "--set",
        "BATCH_SIZE=10",
        "--set",
        "MAX_BUFFERED_RECORDS_PER_PARTITION=50",  # a short drain on Ctrl-C
        cwd=tmp_path,
    ) as command:
        broker = await command.until(r"^broker\s+Tansu on \S+ \(pid (\d+)\)")
        tansu_pid = int(broker.group(1))
        await command.until(r"^\s*[\d.]+ s  [1-9][\d,]*/20,000 done")  # records are flowing
        children = children_of(command.process.pid)
        assert tansu_pid in children

        command.process.send_signal(signal.SIGINT)
        finished = await command.finish()

    assert finished.exit_code == 0, finished.out + finished.err
    assert "stopping: finishing the invocations in flight (SHUTDOWN_TIMEOUT_SECONDS at most)" in (
        finished.out
    )
    assert re.search(r"^stopped after", finished.out, re.M)
    assert 0 < finished.number("delivered") < 20_000
    assert not [pid for pid in children if alive(pid)], "a child process outlived the command"


async def test_a_drain_that_waits_keeps_saying_so_until_its_time_is_up(tmp_path: Path) -> None:
    """A function slower than the stop's budget: after Ctrl-C the line keeps counting down
    while the invocations in flight end, instead of leaving the screen still."""
    slow = tmp_path / "slow.py"
    slow.write_text("import time\n\ndef handler(event, context):\n    time.sleep(30)\n")
    async with running(
        "--handler",
        f"{slow}:handler",
        "--function-timeout",
        "60",
        "--produce",
        "50",
        "--set",
        "SHUTDOWN_TIMEOUT_SECONDS=8",  # 6 s of it for the invocations, 2 s kept for the rest
        cwd=tmp_path,
    ) as command:
        await command.until(r"in flight [1-9]")
        command.process.send_signal(signal.SIGINT)
        finished = await command.finish()

    assert finished.exit_code == 0, finished.out + finished.err
    waits = re.findall(
        r"stopping: finishing the invocations in flight, (\d+) s at most", finished.out
    )
    assert len(waits) >= 2, finished.out  # a line every 2 s while it waits (not a terminal)
    assert int(waits[0]) > int(waits[-1])  # counting down
    assert re.search(r"^stopped after", finished.out, re.M)


async def test_a_second_ctrl_c_quits_at_once_and_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(
        "import time\n\ndef handler(event, context):\n    time.sleep(0.5)\n"
    )
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    async with running(
        "--handler",
        "slow.py:handler",
        "--produce",
        "5000",
        "--set",
        "BATCH_SIZE=10",
        cwd=tmp_path,
        TMPDIR=str(temporary),
    ) as command:
        broker = await command.until(r"^broker\s+Tansu on \S+ \(pid (\d+)\)")
        assert list(temporary.glob("k2l-local-*")), "the run works in a directory of its own"
        await command.until(r"^\s*[\d.]+ s  [1-9][\d,]*/5,000 done")
        command.process.send_signal(signal.SIGINT)
        await command.until(r"^stopping: finishing the invocations in flight")
        command.process.send_signal(signal.SIGINT)
        finished = await command.finish()

    assert finished.exit_code == 130, finished.out + finished.err
    assert "interrupted again: exiting now" in finished.out
    assert not alive(int(broker.group(1))), "the embedded broker outlived the command"
    assert not list(temporary.glob("k2l-local-*")), "the run's directory was left behind"


async def test_ctrl_c_while_starting_stops_what_had_started(tmp_path: Path) -> None:
    async with running("--produce", "2000000", "--record-bytes", "10", cwd=tmp_path) as command:
        broker = await command.until(r"^broker\s+Tansu on \S+ \(pid (\d+)\)")
        await command.until(r"^function")  # producing two million records takes a while
        command.process.send_signal(signal.SIGINT)
        finished = await command.finish()

    assert finished.exit_code == 130, finished.out + finished.err
    assert "interrupted while starting" in finished.out
    assert not alive(int(broker.group(1)))


async def test_a_missing_handler_file_is_one_line_with_the_path_it_looked_at(
    tmp_path: Path,
) -> None:
    finished = await run("--handler", "handlers/nope.py:handler", cwd=tmp_path)

    assert finished.exit_code == 2
    assert finished.err == (
        f"error: handler file handlers/nope.py does not exist (looked at {tmp_path}/handlers/"
        f"nope.py): give a path relative to the working directory {tmp_path} or an absolute "
        "one.\n"
    )
    assert "broker" not in finished.out, "nothing starts before the handler loads"


async def test_a_handler_that_fails_to_import_shows_its_own_traceback_and_no_other(
    tmp_path: Path,
) -> None:
    (tmp_path / "broken.py").write_text("import json\n\nraise RuntimeError('no config found')\n")

    finished = await run("--handler", "broken.py:handler", cwd=tmp_path)

    assert finished.exit_code == 2
    assert finished.err.startswith("error: importing handler file broken.py failed")
    assert f'File "{tmp_path}/broken.py", line 3, in <module>' in finished.err
    assert "RuntimeError: no config found" in finished.err
    assert "consumer/local" not in finished.err, "only the user's frames are shown"


async def test_a_bad_setting_prints_the_bridges_own_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as bridge_error:
        load_settings(
            {
                "KAFKA_BOOTSTRAP_SERVERS": "b:9092",
                "KAFKA_TOPIC": "t",
                "KAFKA_GROUP_ID": "g",
                "LAMBDA_FUNCTION_NAME": "f",
                "BATCH_SIZE": "0",
            }
        )

    finished = await run("--set", "BATCH_SIZE=0", cwd=tmp_path)

    assert (finished.exit_code, finished.err) == (2, f"error: {bridge_error.value}\n")


async def test_an_unknown_setting_is_refused_with_the_closest_name(tmp_path: Path) -> None:
    finished = await run("--set", "BATCH_SIZ=5", cwd=tmp_path)

    assert finished.exit_code == 2
    assert "BATCH_SIZ: no such bridge setting; did you mean BATCH_SIZE?" in finished.err


async def test_a_lambda_port_in_use_is_reported_with_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = await run("--lambda-port", str(port), cwd=tmp_path)

    assert finished.exit_code == 2
    assert finished.err == (
        f"error: --lambda-port {port}: the port is in use; choose another, or leave "
        "--lambda-port out to get a free one.\n"
    )


async def test_without_a_broker_binary_the_error_says_to_use_bootstrap(tmp_path: Path) -> None:
    finished = await run(cwd=tmp_path, CALF_TANSU_BIN=str(tmp_path / "no-tansu"))

    assert finished.exit_code == 2
    assert finished.err.startswith("error: CALF_TANSU_BIN=")
    assert "point --bootstrap at a running Kafka broker" in finished.err


async def test_an_unreachable_bootstrap_is_the_bridges_kafka_error(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        finished = await run(
            "--bootstrap",
            f"127.0.0.1:{port}",
            "--set",
            "KAFKA_CONNECT_TIMEOUT_SECONDS=0.5",
            cwd=tmp_path,
        )

    assert finished.exit_code == 3
    assert finished.err.startswith(f"error: --bootstrap 127.0.0.1:{port}: no broker answered")
    assert f"127.0.0.1:{port}" in finished.err
