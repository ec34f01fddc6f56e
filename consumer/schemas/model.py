"""What every part of schema decoding shares: a registered schema, and the ways decoding fails.

A record part (key or value) in a registry's wire format names its schema (a Confluent
schema id, a Glue schema version UUID); the registry gives a `RegisteredSchema`; a decoder
built from it turns the part's body into JSON text.

Failures come in two kinds, and the bridge treats them oppositely:
- `RegistryUnavailable`: the registry could not answer now (unreachable, 5xx, throttled).
  Transient: the record waits and the lookup is retried; nothing is dead-lettered for it.
- `UndecodableRecord` and its kinds: this record can never be decoded as it is (bytes not in
  the framing, a schema id the registry does not know, bytes that do not fit the schema).
  Permanent: the record is dead-lettered with the reason (or stalls, per ON_FAILURE).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class SchemaFormat(StrEnum):
    """The registries' names for the formats (Confluent's schemaType; Glue's DataFormat)."""

    AVRO = "AVRO"
    PROTOBUF = "PROTOBUF"
    JSON = "JSON"  # JSON Schema


@dataclass(frozen=True)
class RegisteredSchema:
    """A schema as a registry returns it.

    `references` maps each name the schema imports or refers to (a Protobuf import path such
    as "other.proto", an Avro named type's subject, a JSON Schema `$ref`) to that schema's
    text, transitively, so a decoder needs nothing more from the registry.
    """

    format: SchemaFormat
    text: str
    references: Mapping[str, str] = field(default_factory=dict)


class RecordDecoder(Protocol):
    """Built once per schema; turns a part's body (the bytes after the framing) into JSON."""

    def to_json(self, body: bytes) -> bytes:
        """UTF-8 JSON text of the decoded part; raises UndecodableRecord if it does not fit."""
        ...


class RegistryUnavailable(Exception):
    """The registry did not answer usefully now; the lookup is worth retrying."""


class UndecodableRecord(ValueError):
    """This record part can never be decoded as it is; `reason` is one line, for the dead
    letter and the log (never the record's contents)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FramingError(UndecodableRecord):
    """The bytes are not in the registry's wire format (magic byte, header, length)."""


class SchemaNotFound(UndecodableRecord):
    """The registry does not know the schema the record names."""


class UnusableSchema(UndecodableRecord):
    """The registry's schema cannot be compiled into a decoder (unsupported or broken)."""
