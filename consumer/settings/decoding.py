"""How each record is read before it is delivered: schema-registry decoding, filter patterns,
and the payload format the function receives. A group of fields of `BridgeSettings`
(model.py), with the rules that concern them alone."""

from __future__ import annotations

import re
from enum import StrEnum
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr, field_validator

from consumer.filtering.patterns import Pattern, compile_patterns
from consumer.settings.declarations import SettingRuleError, setting
from consumer.settings.payload_format import PayloadFormat
from consumer.settings.urls import why_no_secret_may_go_to

GLUE_REGISTRY_ARN = re.compile(
    r"arn:aws[a-z-]*:glue:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):registry/(?P<name>[\w.-]{1,255})"
)


class SchemaParts(StrEnum):
    """Which parts of a record are in a schema registry's wire format (SCHEMA_DECODE)."""

    VALUE = "value"
    KEY = "key"
    BOTH = "both"

    @property
    def includes_value(self) -> bool:
        return self is not SchemaParts.KEY

    @property
    def includes_key(self) -> bool:
        return self is not SchemaParts.VALUE


class SchemaRecordFormat(StrEnum):
    """What the function receives of a decoded part: Lambda's EventRecordFormat."""

    SOURCE = "SOURCE"  # the record's bytes as they are
    JSON = "JSON"  # the decoded record as JSON text


def _port_of(url: str) -> int | None:
    """The URL's explicit port (None if it names none); 0 if it names one that is not."""
    try:
        return urlsplit(url).port
    except ValueError:  # not a number, or above 65535
        return 0


class DecodingSettings(BaseModel):
    """What the function receives of each record, and which records it receives."""

    payload_format: PayloadFormat = setting(
        PayloadFormat.NATIVE,
        doc="`native` (Lambda's Kafka event), `legacy` (replaced bridge) or `value`.",
        stack="payloadFormat",
    )
    filter_patterns: str | None = setting(
        None,
        doc=(
            "Lambda filter patterns as a JSON list: only records matching one are invoked, "
            "the others are committed without an invocation. See Filtering."
        ),
        stack="filterPatterns",
        example="""'[{"value": {"type": ["allele"]}}]'""",
    )
    # Schema registries
    schema_registry_url: str | None = setting(
        None,
        doc=(
            "A Confluent-compatible schema registry (Confluent Cloud, Confluent Platform, "
            "Apicurio's `/apis/ccompat/v7`): records in its wire format are decoded. See "
            "Schema registries."
        ),
        stack="schemaRegistryUrl",
        example="https://psrc-<id>.<region>.<cloud>.confluent.cloud",
    )
    schema_registry_key: str | None = setting(
        None,
        doc="The registry's basic-auth user name (Confluent Cloud: the registry API key).",
        stack="schemaRegistryKey",
        example="<registry API key>",
    )
    schema_registry_secret: SecretStr | None = setting(
        None,
        doc="The registry's basic-auth password (the registry API secret). Never logged.",
        stack="schemaRegistrySecret",
    )
    glue_schema_registry_arn: str | None = setting(
        None,
        doc=(
            "Instead of SCHEMA_REGISTRY_URL: an AWS Glue schema registry's ARN; records in "
            "Glue's wire format are decoded with the task's AWS credentials."
        ),
        stack="glueSchemaRegistryArn",
        example="arn:aws:glue:<region>:<account>:registry/<name>",
    )
    glue_endpoint_url: str | None = setting(
        None, doc="Glue API endpoint, for local runs and tests."
    )
    schema_decode: SchemaParts = setting(
        SchemaParts.VALUE,
        doc="Which parts are in the registry's wire format: `value`, `key` or `both`.",
        stack="schemaDecode",
    )
    schema_record_format: SchemaRecordFormat = setting(
        SchemaRecordFormat.SOURCE,
        doc=(
            "What the function gets of a decoded part: `SOURCE` (its bytes as they are) or "
            "`JSON` (the decoded record as JSON text), as Lambda's EventRecordFormat."
        ),
        stack="schemaRecordFormat",
    )

    @field_validator("filter_patterns")
    @classmethod
    def _check_filter_patterns(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            compile_patterns(value)  # a FilterPatternError is a ValueError: one line
            return value
        return None

    def _check_schema_registry(self) -> None:
        """One registry at most; its credentials together; decoding settings need one."""
        url, glue = self.schema_registry_url, self.glue_schema_registry_arn
        if url is not None and glue is not None:
            raise SettingRuleError(
                "glue_schema_registry_arn",
                "GLUE_SCHEMA_REGISTRY_ARN and SCHEMA_REGISTRY_URL exclude each other: one "
                "registry decodes the records",
            )
        if url is not None and not re.fullmatch(r"https?://[^\s/@]+(/\S*)?", url):
            raise SettingRuleError(
                "schema_registry_url",
                "SCHEMA_REGISTRY_URL is not an http:// or https:// URL without credentials in "
                "it (they go in SCHEMA_REGISTRY_KEY and SCHEMA_REGISTRY_SECRET)",
            )
        if url is not None and _port_of(url) == 0:
            raise SettingRuleError(
                "schema_registry_url",
                "SCHEMA_REGISTRY_URL names a port no connection can use (1 to 65535)",
            )
        if glue is not None and not GLUE_REGISTRY_ARN.fullmatch(glue):
            raise SettingRuleError(
                "glue_schema_registry_arn",
                f"GLUE_SCHEMA_REGISTRY_ARN={glue!r} is not a Glue registry ARN "
                "(arn:aws:glue:<region>:<account>:registry/<name>)",
            )
        credentials = (self.schema_registry_key, self.schema_registry_secret)
        if any(part is not None for part in credentials):
            if url is None:
                raise SettingRuleError(
                    "schema_registry_url",
                    "SCHEMA_REGISTRY_KEY and SCHEMA_REGISTRY_SECRET are for a registry at "
                    "SCHEMA_REGISTRY_URL (Glue uses the task's AWS credentials)",
                )
            if not all(part is not None for part in credentials):
                raise SettingRuleError(
                    "schema_registry_secret" if credentials[1] is None else "schema_registry_key",
                    "SCHEMA_REGISTRY_KEY and SCHEMA_REGISTRY_SECRET go together (basic auth)",
                )
            why_not = why_no_secret_may_go_to(url)
            if why_not is not None:
                raise SettingRuleError(
                    "schema_registry_url",
                    f"SCHEMA_REGISTRY_URL cannot be given SCHEMA_REGISTRY_SECRET: {why_not}",
                )
        if url is None and glue is None:
            # Only a choice away from the default needs a registry: a stack gives every key.
            chosen = [
                name
                for name, default in (
                    ("schema_decode", SchemaParts.VALUE),
                    ("schema_record_format", SchemaRecordFormat.SOURCE),
                    ("glue_endpoint_url", None),
                )
                if getattr(self, name) != default
            ]
            if chosen:
                raise SettingRuleError(
                    chosen[0],
                    f"{chosen[0].upper()} needs a registry: SCHEMA_REGISTRY_URL or "
                    "GLUE_SCHEMA_REGISTRY_ARN",
                )

    @property
    def decodes_schemas(self) -> bool:
        """A schema registry is set: parts of each record are in its wire format."""
        return self.schema_registry_url is not None or self.glue_schema_registry_arn is not None

    @property
    def compiled_filter_patterns(self) -> list[Pattern]:
        """FILTER_PATTERNS, compiled; empty when no filtering."""
        return [] if self.filter_patterns is None else compile_patterns(self.filter_patterns)
