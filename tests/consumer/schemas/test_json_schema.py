"""JSON Schema bodies: passed on byte for byte when they are JSON and match their schema; a
reason names the path and the rule that failed, never the value."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.schemas.json_schema import json_schema_decoder
from consumer.schemas.model import (
    RegisteredSchema,
    SchemaFormat,
    UndecodableRecord,
    UnusableSchema,
)


def registered(schema: Any, references: dict[str, Any] | None = None) -> RegisteredSchema:
    return RegisteredSchema(
        SchemaFormat.JSON,
        json.dumps(schema),
        {name: json.dumps(text) for name, text in (references or {}).items()},
    )


ALLELE = {
    "type": "object",
    "properties": {
        "gene": {"type": "string"},
        "variant": {
            "type": "object",
            "properties": {"position": {"type": "integer"}, "bases": {"type": "string"}},
            "required": ["position"],
        },
        "calls": {"type": "array", "items": {"enum": ["A", "C", "G", "T"]}},
    },
    "required": ["gene"],
}


def test_matching_body_is_passed_on_byte_for_byte() -> None:
    body = (
        b'{ "variant": {"position": 12345678901234567890, "bases": "\\u00e9"},\n "gene": "BRCA1"}'
    )
    assert json_schema_decoder(registered(ALLELE)).to_json(body) == body


def test_mismatch_names_the_path_and_the_rule_but_not_the_value() -> None:
    body = b'{"gene": "BRCA1", "variant": {"position": "secret-pos"}}'
    with pytest.raises(UndecodableRecord) as raised:
        json_schema_decoder(registered(ALLELE)).to_json(body)
    assert raised.value.reason == (
        "the value does not match its JSON schema at $.variant.position:"
        " it fails 'type': \"integer\""
    )


def test_missing_required_property_names_the_object_and_the_rule() -> None:
    with pytest.raises(UndecodableRecord, match=r"at \$: it fails 'required': \[\"gene\"\]"):
        json_schema_decoder(registered(ALLELE)).to_json(b"{}")


def test_array_item_mismatch_names_its_index() -> None:
    with pytest.raises(UndecodableRecord, match=r"at \$\.calls\[1\]: it fails 'enum'"):
        json_schema_decoder(registered(ALLELE)).to_json(b'{"gene": "x", "calls": ["A", "U"]}')


def test_a_long_rule_is_shortened() -> None:
    schema = {"enum": [f"symbol-{n}" for n in range(1000)]}
    with pytest.raises(UndecodableRecord) as raised:
        json_schema_decoder(registered(schema)).to_json(b'"nope"')
    assert len(raised.value.reason) < 200
    assert raised.value.reason.endswith("…")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"gene": "BRCA1"', "not UTF-8 JSON text"),
        (b'{"gene": "\xff"}', "not UTF-8 JSON text"),
        (b'{"gene": "x"} {}', "trailing characters"),
        (b"NaN", "not UTF-8 JSON text"),
        (b"", "not UTF-8 JSON text"),
    ],
)
def test_body_that_is_not_json_is_undecodable(body: bytes, reason: str) -> None:
    for decoder in (
        json_schema_decoder(registered(ALLELE)),
        json_schema_decoder(registered(ALLELE), validate=False),
    ):
        with pytest.raises(UndecodableRecord, match=reason):
            decoder.to_json(body)


def test_without_validation_any_json_passes_and_the_schema_is_not_read() -> None:
    decoder = json_schema_decoder(
        RegisteredSchema(SchemaFormat.JSON, "{not a schema"), validate=False
    )
    assert decoder.to_json(b'{"gene": 5}') == b'{"gene": 5}'


# Drafts


def test_draft_07_is_assumed_when_the_schema_names_none() -> None:
    # prefixItems is a 2020-12 keyword: draft-07 ignores it.
    schema = {"type": "array", "prefixItems": [{"type": "integer"}]}
    assert json_schema_decoder(registered(schema)).to_json(b'["x"]') == b'["x"]'


def test_the_draft_named_by_dollar_schema_is_used() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "array",
        "prefixItems": [{"type": "integer"}],
    }
    with pytest.raises(UndecodableRecord, match=r"at \$\[0\]: it fails 'type'"):
        json_schema_decoder(registered(schema)).to_json(b'["x"]')


def test_draft_04_keywords_keep_their_draft_04_meaning() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "maximum": 10,
        "exclusiveMaximum": True,
    }
    decoder = json_schema_decoder(registered(schema))
    assert decoder.to_json(b"9") == b"9"
    with pytest.raises(UndecodableRecord, match="maximum"):
        decoder.to_json(b"10")


def test_formats_are_annotations_not_checks() -> None:
    schema = {"type": "string", "format": "date-time"}
    assert json_schema_decoder(registered(schema)).to_json(b'"not a date"') == b'"not a date"'


# References


ADDRESS = {"type": "object", "properties": {"zip": {"type": "string"}}, "required": ["zip"]}


def test_ref_reaches_a_reference_by_its_name() -> None:
    schema = {"type": "object", "properties": {"home": {"$ref": "address.json"}}}
    decoder = json_schema_decoder(registered(schema, {"address.json": ADDRESS}))
    assert decoder.to_json(b'{"home": {"zip": "0150"}}') == b'{"home": {"zip": "0150"}}'
    with pytest.raises(UndecodableRecord, match=r"at \$\.home: it fails 'required'"):
        decoder.to_json(b'{"home": {}}')


def test_ref_resolved_against_the_schemas_id_reaches_the_reference() -> None:
    schema = {
        "$id": "https://example.com/schemas/customer.json",
        "properties": {"home": {"$ref": "address.json"}},
    }
    decoder = json_schema_decoder(registered(schema, {"address.json": ADDRESS}))
    with pytest.raises(UndecodableRecord, match=r"at \$\.home"):
        decoder.to_json(b'{"home": {}}')


def test_ref_to_a_references_own_id_reaches_it() -> None:
    address = {**ADDRESS, "$id": "https://example.com/address"}
    schema = {"properties": {"home": {"$ref": "https://example.com/address"}}}
    decoder = json_schema_decoder(registered(schema, {"com.example.Address": address}))
    with pytest.raises(UndecodableRecord, match=r"at \$\.home"):
        decoder.to_json(b'{"home": {"zip": 1}}')


def test_ref_that_resolves_nowhere_is_an_unusable_schema() -> None:
    schema = {"properties": {"home": {"$ref": "address.json"}}}
    decoder = json_schema_decoder(registered(schema))
    with pytest.raises(UnusableSchema, match=r"'address\.json'"):
        decoder.to_json(b'{"home": {}}')


# Schemas that cannot be used


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "not JSON"),
        ('{"type": 12}', "not valid for its draft at \\$.type"),
        ('{"required": "gene"}', "not valid for its draft"),
    ],
)
def test_schema_that_is_not_valid_is_unusable(text: str, reason: str) -> None:
    with pytest.raises(UnusableSchema, match=reason):
        json_schema_decoder(RegisteredSchema(SchemaFormat.JSON, text))


@given(st.binary(max_size=60))
def test_any_body_is_passed_on_or_undecodable(body: bytes) -> None:
    try:
        passed_on = json_schema_decoder(registered(ALLELE)).to_json(body)
    except UndecodableRecord as error:
        reason = error.reason
    else:
        assert passed_on == body
        return
    assert "\n" not in reason
