"""The claim check a record travels as: one reference document in every payload format,
flagged so the function (and the reader in examples/claim_checks.py) can tell."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from aws_lambda_powertools.utilities.data_classes import KafkaEvent

from consumer.payloads.claim_checks import (
    CLAIM_CHECK_FIELD,
    CLAIM_CHECK_HEADER,
    ClaimCheck,
    claim_checked,
)
from consumer.payloads.encoders import encoder_for
from consumer.records import DecodedRecord, KafkaRecord, SchemaMetadata
from consumer.settings.payload_format import PayloadFormat
from tests.support.claim_check_reader import claim_check_reader

CHECK = ClaimCheck("claims-bucket", "large/" + "ab" * 32, 20_971_520, "ab" * 32)


def record(value: bytes = b'{"big": true}', key: bytes | None = b"k") -> KafkaRecord:
    built: KafkaRecord = ConsumerRecord(
        topic="orders",
        partition=3,
        offset=41,
        timestamp=1_700_000_000_000,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=-1,
        serialized_value_size=len(value),
        headers=[("trace", b"t-1")],
    )
    return built


def payload(payload_format: PayloadFormat, travelling: KafkaRecord) -> Any:
    encoder = encoder_for(payload_format, "b-1:9092")
    fragment = encoder.encode_record(travelling)
    return json.loads(encoder.assemble("orders", 3, [fragment]))


def test_the_reference_document_is_versioned_and_names_what_it_replaces() -> None:
    assert json.loads(CHECK.document()) == {
        CLAIM_CHECK_FIELD: {
            "version": 1,
            "bucket": "claims-bucket",
            "key": CHECK.key,
            "size": 20_971_520,
            "sha256": CHECK.sha256,
            "replaces": "value",
        }
    }


def test_native_carries_the_reference_as_the_value_with_the_flag_after_the_own_headers() -> None:
    event = payload(PayloadFormat.NATIVE, claim_checked(record(), CHECK))
    (native,) = event["records"]["orders-3"]
    assert json.loads(base64.b64decode(native["value"])) == json.loads(CHECK.document())
    assert native["headers"] == [{"trace": list(b"t-1")}, {CLAIM_CHECK_HEADER: [49]}]
    assert base64.b64decode(native["key"]) == b"k"
    assert (native["offset"], native["partition"]) == (41, 3)
    assert claim_check_reader().claim_check_of(native) == reader_check()
    # Powertools' data class reads it like any record, and the reader reads the data class.
    (wrapped,) = KafkaEvent(event).records
    assert wrapped.decoded_headers[CLAIM_CHECK_HEADER] == b"1"
    assert claim_check_reader().claim_check_of(wrapped) == reader_check()


def test_legacy_carries_the_reference_as_text_with_the_flag() -> None:
    (legacy,) = payload(PayloadFormat.LEGACY, claim_checked(record(), CHECK))
    assert json.loads(legacy["value"]) == json.loads(CHECK.document())
    assert legacy["headers"][-1] == {CLAIM_CHECK_HEADER: base64.b64encode(b"1").decode()}
    assert legacy["key"] == "k"
    assert claim_check_reader().claim_check_of(legacy) == reader_check()


def test_value_carries_the_reference_as_the_whole_payload() -> None:
    event = payload(PayloadFormat.VALUE, claim_checked(record(), CHECK))
    assert event == json.loads(CHECK.document())
    assert claim_check_reader().claim_check_of(event) == reader_check()


def test_a_decoded_record_keeps_its_keys_schema_metadata_not_its_values() -> None:
    key_schema = SchemaMetadata("AVRO", "7")
    decoded = DecodedRecord(
        "orders",
        3,
        41,
        1_700_000_000_000,
        0,
        b'{"id":1}',
        b'{"big":true}',
        [],
        b'{"id":1}',
        b'{"big":true}',
        key_schema,
        SchemaMetadata("AVRO", "8"),
        record(),
    )
    (native,) = payload(PayloadFormat.NATIVE, claim_checked(decoded, CHECK))["records"]["orders-3"]
    assert native["keySchemaMetadata"] == {"dataFormat": "AVRO", "schemaId": "7"}
    assert "valueSchemaMetadata" not in native
    assert payload(PayloadFormat.VALUE, claim_checked(decoded, CHECK)) == json.loads(
        CHECK.document()
    )


@pytest.mark.parametrize("payload_format", [PayloadFormat.NATIVE, PayloadFormat.LEGACY])
def test_a_record_without_the_flag_is_not_a_claim_check_even_with_a_reference_value(
    payload_format: PayloadFormat,
) -> None:
    (own,) = (
        payload(payload_format, record(CHECK.document()))["records"]["orders-3"]
        if payload_format is PayloadFormat.NATIVE
        else payload(payload_format, record(CHECK.document()))
    )
    assert claim_check_reader().claim_check_of(own) is None


def reader_check() -> Any:
    reader = claim_check_reader()
    return reader.ClaimCheck(CHECK.bucket, CHECK.key, CHECK.size, CHECK.sha256)
