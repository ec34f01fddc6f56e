"""A Confluent-compatible schema registry (SCHEMA_REGISTRY_URL), read over its REST API.

Two calls are all decoding needs: `GET /schemas/ids/{id}` (the schema a record names) and
`GET /subjects/{subject}/versions/{version}` (each schema it references, transitively). The
registry is reached with one long-lived aiohttp session, so a lookup never blocks the event
loop. aiohttp rather than a registry client library: the ones for Python block (requests,
httpx's sync client) or pull in a second HTTP stack, and these are two GETs.

How an answer is classified decides what becomes of the records waiting on it:
- 404 (Confluent error 40403 and the like): `SchemaNotFound`, permanent; the records that
  name the id are dead-lettered with the reason;
- 401/403, 5xx, 429, timeouts, refused connections: `RegistryUnavailable`, transient; the
  records wait and the lookup is retried (a key revoked mid-stream is a registry that will
  not answer until fixed, not a reason to drop records);
- at start-up, `check()` reaches the registry first, so wrong credentials or a wrong URL are
  one line naming the setting before anything is consumed.
Credentials never appear in a message: only the URL does (the settings refuse a URL with
credentials in it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from consumer.errors import SchemaRegistryStartupError, error_reason
from consumer.schemas.model import (
    RegisteredSchema,
    RegistryUnavailable,
    SchemaFormat,
    SchemaNotFound,
    UnusableSchema,
)
from consumer.settings.model import BridgeSettings
from consumer.settings.pem import as_file

_TIMEOUT_S = 10.0  # per request; a registry slower than this is treated as down
_MAX_REFERENCE_DEPTH = 32  # references of references: a cycle is a broken schema, not a hang
_ACCEPT = "application/vnd.schemaregistry.v1+json, application/json"
# A registry's answer holds one schema's text and a few fields: schemas are kilobytes, and
# bounds.py refuses one over a MiB of text (JSON escapes may double that).
MAX_ANSWER_BYTES = 4 * 1024 * 1024


class ConfluentSchemaRegistry:
    """`fetch(schema_id)` gives the schema with its references; open it with `async with`."""

    def __init__(
        self,
        url: str,
        key: str | None = None,
        secret: str | None = None,
        tls: ssl.SSLContext | bool = True,
    ) -> None:
        self._base = url.rstrip("/")
        self.description = self._base  # settings refuse user info in the URL: no secret here
        self._headers = {"Accept": _ACCEPT}
        if key is not None and secret is not None:
            token = base64.b64encode(f"{key}:{secret}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"  # RFC 7617
        self._tls = tls
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: BridgeSettings) -> ConfluentSchemaRegistry:
        assert settings.schema_registry_url is not None
        secret = settings.schema_registry_secret
        return cls(
            settings.schema_registry_url,
            settings.schema_registry_key,
            None if secret is None else secret.get_secret_value(),
            registry_tls(settings),
        )

    async def __aenter__(self) -> ConfluentSchemaRegistry:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=_TIMEOUT_S), headers=self._headers
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def check(self) -> None:
        """Start-up: the registry answers, and takes the credentials."""
        try:
            status, _ = await self._get("/schemas/types")
        except RegistryUnavailable as unreachable:
            raise SchemaRegistryStartupError(
                f"SCHEMA_REGISTRY_URL: the schema registry at {self.description} did not "
                f"answer ({unreachable}). Check the URL and that the task can reach it."
            ) from None
        if status in (401, 403):
            raise SchemaRegistryStartupError(
                f"SCHEMA_REGISTRY_KEY/SCHEMA_REGISTRY_SECRET: the schema registry at "
                f"{self.description} refused them (HTTP {status}). Use the registry's API key "
                "and secret (on Confluent Cloud, a Schema Registry key, not the cluster's)."
            )
        if status != 200:
            raise SchemaRegistryStartupError(
                f"SCHEMA_REGISTRY_URL: {self.description} answered HTTP {status} where a "
                "Confluent-compatible registry answers 200; is the path right (Apicurio: "
                "…/apis/ccompat/v7)?"
            )

    async def fetch(self, schema_id: int) -> RegisteredSchema:
        """The schema with id `schema_id`, every reference resolved to its text."""
        body = await self._json(f"/schemas/ids/{schema_id}", f"schema id {schema_id}")
        references: dict[str, str] = {}
        await self._resolve_references(body, references, depth=0)
        return RegisteredSchema(_format(body), _text(body), references)

    async def _resolve_references(
        self, body: Mapping[str, Any], into: dict[str, str], depth: int
    ) -> None:
        if depth > _MAX_REFERENCE_DEPTH:
            raise UnusableSchema(f"schema references nest deeper than {_MAX_REFERENCE_DEPTH}")
        for reference in body.get("references") or ():
            try:
                name, subject, version = (
                    reference["name"],
                    reference["subject"],
                    reference["version"],
                )
            except (KeyError, TypeError):
                raise UnusableSchema("a schema reference lacks name, subject or version") from None
            if name in into:
                continue
            path = f"/subjects/{quote(str(subject), safe='')}/versions/{version}"
            referenced = await self._json(path, f"reference {name!r} ({subject} v{version})")
            into[name] = _text(referenced)
            await self._resolve_references(referenced, into, depth + 1)

    async def _json(self, path: str, what: str) -> Mapping[str, Any]:
        status, body = await self._get(path)
        if status == 200 and isinstance(body, Mapping):
            return body
        if status == 404:
            raise SchemaNotFound(f"the schema registry has no {what}")
        if status in (401, 403):
            raise RegistryUnavailable(
                f"the schema registry refused the credentials (HTTP {status})"
            )
        if status >= 500 or status == 429:
            raise RegistryUnavailable(f"the schema registry answered HTTP {status}")
        raise UnusableSchema(f"the schema registry answered HTTP {status} for {what}")

    async def _get(self, path: str) -> tuple[int, Any]:
        session = self._session
        assert session is not None, "open the registry with `async with` first"
        try:
            async with session.get(self._base + path, ssl=self._tls) as response:
                if response.status != 200:
                    return response.status, None
                try:  # one byte over the bound is enough to refuse the answer
                    data = await response.content.readexactly(MAX_ANSWER_BYTES + 1)
                except asyncio.IncompleteReadError as whole:
                    data = whole.partial  # the whole answer, within the bound
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise RegistryUnavailable(error_reason(error)) from None
        if len(data) > MAX_ANSWER_BYTES:
            raise UnusableSchema(
                f"the schema registry's answer to {path} is over {MAX_ANSWER_BYTES:,} bytes"
            )
        try:
            return 200, json.loads(data)
        except RecursionError:
            raise UnusableSchema(
                f"the schema registry's answer to {path} nests too deeply to read"
            ) from None
        except ValueError as error:
            raise RegistryUnavailable(f"the answer is not JSON ({error_reason(error)})") from None


def registry_tls(settings: BridgeSettings) -> ssl.SSLContext | bool:
    """The registry's TLS: the system's CAs, plus KAFKA_SSL_CA_FILE and the Kafka client
    certificate when they are set (mutual TLS to a registry that asks for one)."""
    certificate, key = settings.kafka_ssl_certificate, settings.kafka_ssl_key
    if settings.kafka_ssl_ca_file is None and certificate is None:
        return True  # aiohttp's default: verify against the system's CAs
    context = ssl.create_default_context()
    try:
        if settings.kafka_ssl_ca_file is not None:
            context.load_verify_locations(cafile=str(settings.kafka_ssl_ca_file))
        if certificate is not None and key is not None:
            password = settings.kafka_ssl_key_password
            context.load_cert_chain(
                as_file(certificate.get_secret_value()),
                as_file(key.get_secret_value()),
                None if password is None else password.get_secret_value(),
            )
    except ssl.SSLError as bad:
        raise SchemaRegistryStartupError(
            "KAFKA_SSL_CA_FILE/KAFKA_SSL_CERTIFICATE/KAFKA_SSL_KEY: the schema registry's TLS "
            f"cannot use them ({bad.reason or bad})."
        ) from None
    return context


def _format(body: Mapping[str, Any]) -> SchemaFormat:
    declared = body.get("schemaType") or SchemaFormat.AVRO.value  # absent means Avro
    try:
        return SchemaFormat(declared)
    except ValueError:
        raise UnusableSchema(
            f"schema type {str(declared)[:40]!r} is not one the bridge decodes"
        ) from None


def _text(body: Mapping[str, Any]) -> str:
    text = body.get("schema")
    if not isinstance(text, str):
        raise UnusableSchema("the schema registry's answer has no schema text")
    return text
