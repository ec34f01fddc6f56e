"""JSON Schema record parts: the body is already JSON; it is checked, then passed on as it is.

Confluent's JSON Schema serializer (and Glue's) writes the JSON text of the value after the
header, so the decoded part is those same bytes: never re-encoded, so numbers, key order and
spacing reach the function exactly as the producer wrote them.

Choices:
- The body must be UTF-8 JSON text, as msgspec reads it (strict: no NaN, no byte-order mark, no
  lone surrogate escapes, no number beyond a double's range).
- With `validate`, the value is checked against the schema with `jsonschema`: the draft named by
  the schema's `$schema`, draft-07 when it names none (as Confluent's serializer assumes).
  `format` is an annotation only (the drafts' default), so no format is checked.
  Validation is the expensive part: about 85 µs for a 1 KiB value, against 1.5 µs for the JSON
  check alone (`validate=False`).
- `$ref`s reach the schema's references by name ("address.json"), and, where the schema has an
  `$id`, by that name resolved against it, and by each reference's own `$id`.

Invariants: `to_json` returns the body unchanged or raises `UndecodableRecord`; a reason names
the JSON path and the rule that failed (the keyword and the schema's value for it), never the
record's value. `json_schema_decoder` raises `UnusableSchema` for a schema that is not valid for
its draft; a `$ref` that resolves nowhere is found while validating, and is `UnusableSchema` too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

import msgspec
import referencing.exceptions
import referencing.jsonschema
from jsonschema import Draft7Validator, validators
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator
from referencing import Registry, Resource

from consumer.schemas.model import RegisteredSchema, UndecodableRecord, UnusableSchema

_PATH_TEXT_CHARS = 80  # where in the value, shortened: a value can nest thousands deep
_RULE_TEXT_CHARS = 80  # a rule's schema value, shortened: an enum can list thousands


# Validation walks the value in Python at about 1 ms per KiB: a body larger than this is
# validated off the event loop (record_decoding.py), so none holds it for more than ~60 ms.
INLINE_VALIDATION_BYTES = 64 * 1024


class JsonSchemaDecoder:
    """Checks bodies against one JSON schema (or only that they are JSON) and passes them on.

    `inline_max_bytes`: the largest body worth checking on the event loop (None: any).
    """

    __slots__ = ("_decode", "_validator", "inline_max_bytes")

    def __init__(self, validator: Validator | None) -> None:
        self._validator = validator
        self._decode = msgspec.json.Decoder().decode
        self.inline_max_bytes = None if validator is None else INLINE_VALIDATION_BYTES

    def to_json(self, body: bytes) -> bytes:
        try:
            value = self._decode(body)
        except msgspec.MsgspecError as error:
            raise UndecodableRecord(f"the body is not UTF-8 JSON text: {error}") from None
        except RecursionError:
            raise UndecodableRecord("the JSON body nests too deeply to read") from None
        if self._validator is not None:
            _check(self._validator, value)
        return body


def _check(validator: Validator, value: Any) -> None:
    try:
        if validator.is_valid(value):  # a tenth faster than collecting no errors
            return
        error = best_match(validator.iter_errors(value))
    except referencing.exceptions.Unresolvable as unresolvable:
        raise UnusableSchema(
            f"the JSON schema refers to {unresolvable.ref!r}, which none of its references is"
        ) from None
    except RecursionError:
        raise UndecodableRecord("the JSON value nests too deeply to validate") from None
    if error is not None:
        rule = json.dumps(error.validator_value, ensure_ascii=False)
        if len(rule) > _RULE_TEXT_CHARS:
            rule = rule[: _RULE_TEXT_CHARS - 1] + "…"
        path = error.json_path  # names of the record's own keys: shown, but never unbounded
        if len(path) > _PATH_TEXT_CHARS:
            path = path[: _PATH_TEXT_CHARS - 1] + "…"
        raise UndecodableRecord(
            f"the value does not match its JSON schema at {path}: it fails {error.validator!r}:"
            f" {rule}"
        )


def json_schema_decoder(schema: RegisteredSchema, validate: bool = True) -> JsonSchemaDecoder:
    """A decoder for JSON bodies; with `validate`, each is checked against `schema`."""
    if not validate:
        return JsonSchemaDecoder(None)
    contents = _schema_json(schema.text, "the JSON schema")
    validator_type = validators.validator_for(contents, default=Draft7Validator)
    try:
        validator_type.check_schema(contents)
    except SchemaError as error:
        raise UnusableSchema(
            f"the JSON schema is not valid for its draft at {error.json_path}:"
            f" {error.validator!r} fails"
        ) from None
    registry = _registry(contents, schema.references, validator_type)
    return JsonSchemaDecoder(validator_type(contents, registry=registry))


def _schema_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise UnusableSchema(f"{what} is not JSON ({error})") from None


def _registry(
    contents: Any, references: Mapping[str, str], validator_type: type[Validator]
) -> Registry[Any]:
    specification = referencing.jsonschema.specification_with(validator_type.META_SCHEMA["$schema"])
    base = contents.get("$id", "") if isinstance(contents, dict) else ""
    registry: Registry[Any] = Registry()
    for name, text in references.items():
        try:
            resource = Resource.from_contents(
                _schema_json(text, f"the reference {name!r}"),
                default_specification=specification,
            )
        except referencing.exceptions.CannotDetermineSpecification:
            raise UnusableSchema(f"the reference {name!r} names an unknown $schema") from None
        uris = {name, urljoin(base, name) if base else name}
        if resource.id():
            uris.add(str(resource.id()))
        registry = registry.with_resources((uri, resource) for uri in uris)
    return registry
