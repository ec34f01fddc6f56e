"""A dead letter as an SQS or SNS message, for generated hostile records: whatever a producer
wrote (header names that are not UTF-8, control characters, lone surrogates, any topic name,
values far over the limit), the message is one the services take, within the limit, and
redrive reads the same record back from it or from its overflow document."""

from __future__ import annotations

import json
import re

from aiokafka.structs import ConsumerRecord
from hypothesis import event, given, settings
from hypothesis import strategies as st

from consumer.failures.letter_messages import MIN_MESSAGE_BYTES, letter_message
from consumer.failures.letters import DeadLetter, dead_letter_document
from consumer.redrive.letters import read_document

# What SQS takes in a message body and SNS in attributes (XML 1.0 characters).
XML_TEXT = re.compile("^[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]+$")
FIFO_ID = re.compile(r"^[A-Za-z0-9!-/:-@\[-`{-~]{1,128}$")

# Any text, lone surrogates and control characters included.
hostile_text = st.text(st.characters(codec=None), max_size=300)
# A header name as the bridge reads one: bytes that need not be UTF-8, kept with surrogateescape.
header_names = st.binary(max_size=40).map(lambda raw: raw.decode("utf-8", "surrogateescape"))


@st.composite
def dead_letters(draw: st.DrawFn) -> DeadLetter:
    value = draw(
        st.one_of(
            st.none(),
            st.binary(max_size=2_000),
            st.integers(0, 40_000).map(lambda n: b"\x00\xff" * n),  # far over a 16 KiB limit
        )
    )
    key = draw(st.one_of(st.none(), st.binary(max_size=300)))
    headers = draw(
        st.lists(st.tuples(header_names, st.one_of(st.none(), st.binary(max_size=50))), max_size=8)
    )
    record = ConsumerRecord(
        topic=draw(st.text(st.characters(codec="utf-8"), min_size=1, max_size=249)),
        partition=draw(st.integers(0, 2**31 - 1)),
        offset=draw(st.integers(0, 2**63 - 1)),
        timestamp=draw(st.integers(0, 2**53)),
        timestamp_type=draw(st.sampled_from([0, 1])),
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value or b""),
        headers=headers,
    )
    return DeadLetter(
        record,
        error_type=draw(hostile_text),
        error_message=draw(hostile_text),
        attempts=draw(st.integers(1, 1_000)),
        first_attempt_at=1_700_000_000.0,
        last_attempt_at=1_700_000_001.5,
    )


@settings(max_examples=300, deadline=None)
@given(
    letter=dead_letters(),
    max_bytes=st.sampled_from([MIN_MESSAGE_BYTES, 262_144]),
    fifo=st.booleans(),
)
def test_any_record_makes_a_message_the_services_take_and_redrive_reads_back(
    letter: DeadLetter, max_bytes: int, fifo: bool
) -> None:
    document = dead_letter_document(letter, "curation", "native", "b-1:9092")
    message = letter_message(
        letter,
        document,
        max_bytes=max_bytes,
        overflow_bucket="overflow",
        overflow_key="big/letter.json",
        fifo=fifo,
    )

    assert message.size_bytes <= max_bytes
    assert message.body.isascii()  # JSON escapes the rest: within what both services take
    for name, attribute in message.attributes.items():
        assert XML_TEXT.match(name), name
        assert XML_TEXT.match(attribute["StringValue"]), name
    if fifo:
        assert message.group_id is not None
        assert FIFO_ID.match(message.group_id)
        assert message.deduplication_id is not None
        assert FIFO_ID.match(message.deduplication_id)
    else:
        assert message.group_id is None
        assert message.deduplication_id is None

    event("pointer to the overflow" if message.overflow_key else "the whole document")
    whole = json.loads(message.body)
    if message.overflow_key is not None:
        assert message.overflow_document is not None
        assert "value" not in whole["record"]
        assert "key" not in whole["record"]
        assert whole["overflow"] == {"bucket": "overflow", "key": "big/letter.json"}
        assert message.attributes["overflow"]["StringValue"] == "s3://overflow/big/letter.json"
        whole = json.loads(message.overflow_document)
    read = read_document(whole, "generated")
    assert isinstance(read, tuple), read
    record = read[0]
    assert (record.topic, record.partition, record.offset) == (
        letter.record.topic,
        letter.record.partition,
        letter.record.offset,
    )
    assert (record.key, record.value, record.headers) == (
        letter.record.key,
        letter.record.value,
        letter.record.headers,
    )
