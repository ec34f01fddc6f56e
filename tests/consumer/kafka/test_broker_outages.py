"""A broker outage is two WARNING lines with its length and count, not a flood of ERRORs."""

from __future__ import annotations

import ast
import asyncio
import io
import json
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiokafka
import pytest

from consumer.kafka.outages import CONNECTION_ERRORS, BrokerOutages
from consumer.local import FunctionSpec, LocalLambda
from consumer.operations.logs import JsonFormatter
from tests.support.apache_kafka import ApacheKafkaBroker
from tests.support.bridge_harness import (
    FUNCTION,
    RecordingSink,
    assert_all_delivered,
    bridge_environment,
    bridge_process,
    wait_for_deliveries,
)
from tests.support.kafka_records import KafkaTestClient, TestRecord
from tests.support.log_lines import LogLines

OUTAGE_S = 20  # the scenario: the broker is away this long


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    """What the root logger writes, as the bridge's JSON lines; restored afterwards."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def aiokafka_error(message: str, *args: object, logger: str = "aiokafka.client") -> None:
    logging.getLogger(logger).error(message, *args)


def test_connection_errors_become_one_line_when_they_start_and_one_when_a_broker_answers(
    written: io.StringIO,
) -> None:
    clock = Clock()
    outages = BrokerOutages(clock)
    with outages.installed():
        aiokafka_error('Unable connect to "%s:%s": %s', "b-1", 9092, "refused")
        for _ in range(500):
            aiokafka_error("Unable connect to node with id %s: %s", 1, "refused")
            aiokafka_error("Failed fetch messages from %s: %s", 1, "gone", logger="aiokafka.f")
        outages.heard_from_brokers(clock.now - 1)  # a fetch answered before the errors: no
        clock.now += 0.5
        outages.heard_from_brokers(clock.now)  # an answer between refusals: not yet over
        aiokafka_error("Unable connect to node with id %s: %s", 1, "refused")
        clock.now += 20.0
        outages.heard_from_brokers(clock.now)

    said = lines(written)
    assert [(line["level"], line["message"]) for line in said] == [
        (
            "WARNING",
            "Kafka brokers unreachable; their connection errors are counted until one "
            "answers again",
        ),
        ("WARNING", "Kafka brokers reachable again"),
    ]
    assert said[0]["first_error"] == 'Unable connect to "b-1:9092": refused'
    assert (said[1]["outage_s"], said[1]["connection_errors"]) == (20.5, 1002)


def test_other_aiokafka_errors_and_the_bridge_s_own_lines_pass_at_their_level(
    written: io.StringIO,
) -> None:
    with BrokerOutages(Clock()).installed():
        aiokafka_error("OffsetCommit failed for group %s - %s", "g", "GroupAuthorizationFailed")
        logging.getLogger("consumer.delivery").warning("record dead-lettered")

    assert [(line["level"], line["logger"]) for line in lines(written)] == [
        ("ERROR", "aiokafka.client"),
        ("WARNING", "consumer.delivery"),
    ]


def test_an_outage_still_open_when_the_bridge_stops_is_said_and_the_filter_removed(
    written: io.StringIO,
) -> None:
    clock = Clock()
    outages = BrokerOutages(clock)
    with outages.installed():
        aiokafka_error("Unable to update metadata from %s", [1])
        clock.now += 7.5
    aiokafka_error("Unable to update metadata from %s", [1])  # no longer filtered

    said = lines(written)
    assert said[1]["message"] == "Kafka brokers still unreachable when the bridge stopped"
    assert (said[1]["outage_s"], said[1]["connection_errors"]) == (7.5, 1)
    assert said[2]["level"] == "ERROR"


def test_every_summarized_message_is_one_aiokafka_logs() -> None:
    """A renamed message in a later aiokafka would pass unsummarized: caught here instead."""
    package = Path(aiokafka.__file__).parent
    literals = {  # every string literal, adjacent ones joined as Python joins them
        node.value
        for path in package.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert not CONNECTION_ERRORS - literals, "not in aiokafka any more"


@pytest.mark.apache_kafka
async def test_a_twenty_second_broker_outage_is_a_handful_of_lines_and_loses_nothing(
    own_apache_kafka: ApacheKafkaBroker, local_lambda: LocalLambda
) -> None:
    client = KafkaTestClient(own_apache_kafka.bootstrap)
    topic = await client.create_topic("outage", partitions=4)
    before = await client.produce(topic, [TestRecord(f'{{"i": {i}}}'.encode()) for i in range(50)])
    sink = RecordingSink()
    local_lambda.add_function(FunctionSpec(FUNCTION, sink))
    process = await bridge_process(
        bridge_environment(client, local_lambda.url, topic, "g-outage", log_level="INFO")
    )
    said = LogLines(process)
    try:
        await wait_for_deliveries(local_lambda, sink, 50)
        await own_apache_kafka.stop()
        await said.until(
            "Kafka brokers unreachable; their connection errors are counted until one answers again"
        )
        await asyncio.sleep(OUTAGE_S)  # the outage itself: its length is the scenario
        await own_apache_kafka.start()
        after = await client.produce(
            topic, [TestRecord(f'{{"i": {i}}}'.encode()) for i in range(50, 100)]
        )
        back = await said.until("Kafka brokers reachable again")
        await wait_for_deliveries(local_lambda, sink, 100)
    finally:
        process.send_signal(signal.SIGTERM)
        await said.finish()

    assert process.returncode == 0, said.text()
    assert back["outage_s"] >= OUTAGE_S
    assert back["connection_errors"] > 0
    during = said.lines[said.lines.index(said.found[0]) : said.lines.index(back) + 1]
    loud = [line for line in during if line["level"] in ("WARNING", "ERROR")]
    assert len(loud) <= 6, "\n".join(map(json.dumps, loud))
    assert_all_delivered([*before, *after], sink.delivered)
