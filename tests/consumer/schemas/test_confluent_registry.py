"""The Confluent-compatible registry client and the decoder cache, against the real registry."""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlsplit

import pytest

from consumer.errors import SchemaRegistryStartupError
from consumer.schemas.confluent_registry import ConfluentSchemaRegistry
from consumer.schemas.decoders import Decoders
from consumer.schemas.model import (
    RegisteredSchema,
    RegistryUnavailable,
    SchemaFormat,
    SchemaNotFound,
)
from consumer.settings.backoff import Backoff
from tests.support.proto_messages import compile_proto_messages
from tests.support.schema_registry_fixtures import REGISTRY_USER
from tests.support.schema_registry_server import SchemaRegistryServer
from tests.support.schema_serializers import avro_bytes, protobuf_bytes, wire_schema_id
from tests.support.tcp_proxy import proxy_to

MONEY_PROTO = 'syntax = "proto3"; package shop; message Money { string currency = 1; }'
PRICE_PROTO = """
syntax = "proto3";
package shop;
import "shop/money.proto";
import "google/protobuf/timestamp.proto";
message Price { Money money = 1; google.protobuf.Timestamp at = 2; }
"""


def subject() -> str:
    return f"topic-{uuid.uuid4().hex[:10]}"


def avro_schema(name: str) -> str:
    return json.dumps({"type": "record", "name": name, "fields": [{"name": "n", "type": "int"}]})


async def test_a_schema_comes_with_its_format_and_every_reference_resolved(
    schema_registry: SchemaRegistryServer,
) -> None:
    price = compile_proto_messages(
        {"shop/money.proto": MONEY_PROTO, "shop/price.proto": PRICE_PROTO}
    )
    written = await asyncio.to_thread(
        protobuf_bytes, schema_registry.url, subject(), price["shop.Price"]()
    )
    async with ConfluentSchemaRegistry(schema_registry.url) as registry:
        schema = await registry.fetch(wire_schema_id(written))

    assert schema.format is SchemaFormat.PROTOBUF
    assert set(schema.references) == {"shop/money.proto"}, "well-known types are not registered"


async def test_an_avro_schema_has_no_schema_type_and_is_avro(
    schema_registry: SchemaRegistryServer,
) -> None:
    written = await asyncio.to_thread(
        avro_bytes, schema_registry.url, subject(), avro_schema("A"), {"n": 1}
    )
    async with ConfluentSchemaRegistry(schema_registry.url) as registry:
        schema = await registry.fetch(wire_schema_id(written))
    assert schema.format is SchemaFormat.AVRO
    assert json.loads(schema.text)["name"] == "A"


async def test_an_unknown_id_is_not_found_and_an_unreachable_registry_is_unavailable(
    schema_registry: SchemaRegistryServer,
) -> None:
    async with ConfluentSchemaRegistry(schema_registry.url) as registry:
        with pytest.raises(SchemaNotFound, match="no schema id 2147483000"):
            await registry.fetch(2_147_483_000)
    address = urlsplit(schema_registry.url)
    assert address.hostname is not None
    assert address.port is not None
    async with proxy_to(address.hostname, address.port) as proxy:
        url = f"http://127.0.0.1:{proxy.port}{address.path}"
        proxy.down()
        async with ConfluentSchemaRegistry(url) as registry:
            with pytest.raises(RegistryUnavailable):
                await registry.fetch(1)
            with pytest.raises(SchemaRegistryStartupError, match="SCHEMA_REGISTRY_URL: the sch"):
                await registry.check()
        assert proxy.refused >= 2


async def test_the_start_up_check_takes_right_credentials_and_names_wrong_ones(
    schema_registry_with_basic_auth: SchemaRegistryServer,
) -> None:
    url = schema_registry_with_basic_auth.url
    async with ConfluentSchemaRegistry(
        url, REGISTRY_USER.username, REGISTRY_USER.password
    ) as registry:
        await registry.check()
    for key, secret in ((REGISTRY_USER.username, "wrong"), ("nobody", REGISTRY_USER.password)):
        async with ConfluentSchemaRegistry(url, key, secret) as registry:
            with pytest.raises(SchemaRegistryStartupError) as refused:
                await registry.check()
        assert str(refused.value).startswith("SCHEMA_REGISTRY_KEY/SCHEMA_REGISTRY_SECRET:")
        assert secret not in str(refused.value)


async def test_a_url_that_is_not_the_registry_api_is_named_at_start_up(
    schema_registry: SchemaRegistryServer,
) -> None:
    root = schema_registry.url.removesuffix(urlsplit(schema_registry.url).path)
    async with ConfluentSchemaRegistry(root + "/no/api/here") as registry:
        with pytest.raises(SchemaRegistryStartupError, match="answered HTTP 404"):
            await registry.check()


def _avro_entry(schema: RegisteredSchema) -> str:
    return json.loads(schema.text)["name"]  # any object stands for a decoder here


async def test_decoders_keep_at_most_their_bound_and_fetch_an_evicted_schema_again(
    schema_registry: SchemaRegistryServer,
) -> None:
    ids = []
    for name in ("A", "B", "C"):
        written = await asyncio.to_thread(
            avro_bytes, schema_registry.url, subject(), avro_schema(name), {"n": 1}
        )
        ids.append(wire_schema_id(written))
    async with ConfluentSchemaRegistry(schema_registry.url) as registry:
        decoders = Decoders[int](
            registry.fetch, _avro_entry, Backoff(0.01, 0.1), registry.description, max_entries=2
        )
        for schema_id in ids:  # one after the other: A is then the least recently used
            await decoders.resolve([schema_id])
        assert decoders.fetches == 3
        assert decoders.get(ids[0]) is None, "the least recently used went first"
        assert [decoders.get(i) for i in ids[1:]] == ["B", "C"]
        await decoders.resolve(ids[:1])
        assert decoders.get(ids[0]) == "A"
        assert decoders.fetches == 4


async def test_an_unknown_schema_is_kept_as_its_reason_and_not_asked_for_again(
    schema_registry: SchemaRegistryServer,
) -> None:
    async with ConfluentSchemaRegistry(schema_registry.url) as registry:
        decoders = Decoders[int](
            registry.fetch, _avro_entry, Backoff(0.01, 0.1), registry.description
        )
        await asyncio.gather(*(decoders.resolve([2_147_483_001]) for _ in range(5)))
        await decoders.resolve([2_147_483_001])
        entry = decoders.get(2_147_483_001)
    assert isinstance(entry, SchemaNotFound)
    assert decoders.fetches == 1, "five waiters, one lookup; a known answer is not asked again"
