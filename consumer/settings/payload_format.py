"""The `payloadFormat` setting's values, apart from the encoders so that the settings (which
the Pulumi program loads with the standard library only) need none of their libraries."""

from __future__ import annotations

from enum import StrEnum


class PayloadFormat(StrEnum):
    """The `payloadFormat` setting: what the function receives."""

    NATIVE = "native"  # Lambda's self-managed Kafka event: base64 key/value, byte-list headers
    LEGACY = "legacy"  # the replaced bridge's JSON array: key and value as UTF-8 text
    VALUE = "value"  # one record per invocation: the record's value (JSON) is the payload
