"""The bridge's log records in the local mode's words: what a line holds, what is left out."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

from consumer.local.log_lines import LocalLogFormatter, SaidElsewhere
from consumer.operations.logs import configure_logging
from consumer.pipeline.commits import METADATA_NOT_KEPT
from consumer.pipeline.delivery import DEAD_LETTERED


def record(
    logger: str,
    level: int,
    message: object,
    fields: dict[str, Any] | None = None,
) -> logging.LogRecord:
    made = logging.LogRecord(logger, level, __file__, 1, message, None, None)
    if fields is not None:
        made.fields = fields
    return made


def test_a_warning_is_its_message_and_fields_in_words_without_the_key_hash() -> None:
    letter = record(
        "consumer.delivery",
        logging.WARNING,
        "dead-letter write failed; not committing past this record, retrying",
        {
            "dlq": "s3://letters/",
            "topic": "local-records",
            "partition": 1,
            "offset": 70,
            "key_hash": "9980d790ad947baa",
            "error_type": "PoisonRecordError",
            "attempts": 14,
        },
    )

    assert LocalLogFormatter().format(letter) == (
        "warning   dead-letter write failed; not committing past this record, retrying "
        "(dlq s3://letters/; topic local-records; partition 1; offset 70; "
        "error type PoisonRecordError; attempts 14)"
    )


def test_units_follow_their_values_long_lists_are_cut_and_unknown_values_left_out() -> None:
    assigned = record(
        "consumer.bridge",
        logging.INFO,
        "partitions assigned",
        {
            "kept": 0,
            "rebalance_s": 5.013,
            "lost": [],
            "arrived": [f"local-records-{n}" for n in range(20)],
            "waiting": ["local-records-3"],
            "released": False,
            "previous_s": None,
        },
    )

    assert LocalLogFormatter().format(assigned) == (
        "info      partitions assigned (kept 0; rebalance 5.013 s; lost none; arrived "
        "local-records-0, local-records-1, local-records-2 and 17 more; "
        "waiting local-records-3; released no)"
    )


def test_only_the_message_fields_and_the_exception_s_own_line_are_shown() -> None:
    """Anything else a record carries (an `extra` outside `fields`, the traceback) is not."""

    def resolve() -> None:
        raise ValueError("schema 7 is not\nin the registry")

    try:
        resolve()
    except ValueError as raised:
        error = raised
    failed = record("consumer.bridge", logging.ERROR, "records held could not be released", {})
    failed.exc_info = (ValueError, error, error.__traceback__)
    failed.value = b'{"ssn": "078-05-1120"}'  # as an `extra` outside the fields would be

    line = LocalLogFormatter().format(failed)

    assert line == (
        "error     records held could not be released: ValueError: schema 7 is not in the registry"
    )


def test_what_the_progress_line_and_summary_say_is_left_out_and_every_other_line_kept() -> None:
    tansu, kafka = SaidElsewhere(embedded_broker=True), SaidElsewhere(embedded_broker=False)
    dead_lettered = record("consumer.delivery", logging.WARNING, DEAD_LETTERED)
    write_failed = record("consumer.delivery", logging.ERROR, "dead-letter write failed")
    no_metadata = record("consumer.bridge", logging.WARNING, METADATA_NOT_KEPT)
    unreachable = record("consumer.kafka", logging.WARNING, "Kafka brokers unreachable")

    assert [tansu(dead_lettered), kafka(dead_lettered)] == [False, False]
    assert [tansu(write_failed), kafka(write_failed)] == [True, True]
    assert not tansu(no_metadata), "Tansu keeps no commit metadata: the local mode knows"
    assert kafka(no_metadata), "a broker of the user's that drops it is worth a line"
    assert [tansu(unreachable), kafka(unreachable)] == [True, True]
    assert tansu(record("asyncio", logging.ERROR, {"a dict": "as the message"}))


@pytest.mark.usefixtures("restored_logging")
def test_through_the_one_logger_setup_lines_are_words_redacted_and_filtered() -> None:
    out = io.StringIO()
    configure_logging(
        "WARNING",
        ["s3cr3t-password"],
        formatter=LocalLogFormatter(),
        stream=out,
        keep=SaidElsewhere(embedded_broker=True),
    )

    logging.getLogger("consumer.delivery").warning(DEAD_LETTERED, extra={"fields": {"offset": 1}})
    logging.getLogger("consumer.kafka").warning(
        "Kafka brokers unreachable",
        extra={"fields": {"first_error": "SASL as k2l:s3cr3t-password refused"}},
    )
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.warning("Heartbeat failed for group %s because it is rebalancing", "g")
    logging.getLogger("consumer.bridge").info("partitions assigned")  # below WARNING

    assert out.getvalue() == (
        "warning   Kafka brokers unreachable (first error SASL as k2l:[redacted] refused)\n"
    )
