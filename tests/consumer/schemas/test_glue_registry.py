"""The Glue schema registry client against Glue's API on moto (server mode): a version of the
configured registry is fetched with its format and definition; anything else fails in the
class that tells the bridge whether waiting can help; the start-up check names the setting."""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aioboto3
import boto3
import pytest
import requests
from aws_schema_registry.codec import encode
from google.protobuf import descriptor_pb2, descriptor_pool

from consumer.errors import SchemaRegistryStartupError
from consumer.schemas.glue_registry import GlueSchemaRegistry
from consumer.schemas.model import (
    RegisteredSchema,
    RegistryUnavailable,
    SchemaFormat,
    SchemaNotFound,
)
from consumer.settings.model import load_settings
from tests.support.glue_serializers import GlueProducer, glue_frame, glue_message_index
from tests.support.moto_fixtures import REGION, MotoServer
from tests.support.proto_messages import compile_proto_messages

ORDER_AVRO: dict[str, Any] = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [{"name": "id", "type": "long"}, {"name": "item", "type": "string"}],
}
ORDER_JSON = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
ORDER_PROTO = """syntax = "proto3";
package shop;
message Order {
  int64 id = 1;
  message Line { string item = 1; }
  repeated Line lines = 2;
}
"""


def _session() -> aioboto3.Session:
    return aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


def _version_id(framed: bytes) -> uuid.UUID:
    return uuid.UUID(bytes=framed[2:18])  # after the header version and compression bytes


def _client(
    moto: MotoServer, arn: str, session: aioboto3.Session | None = None
) -> GlueSchemaRegistry:
    return GlueSchemaRegistry(arn, endpoint_url=moto.endpoint_url, session=session or _session())


@pytest.fixture
def producer(moto_server: MotoServer) -> Iterator[GlueProducer]:
    with GlueProducer(moto_server) as producer:
        yield producer


@pytest.fixture
async def registry(
    moto_server: MotoServer, producer: GlueProducer
) -> AsyncIterator[GlueSchemaRegistry]:
    async with _client(moto_server, producer.registry_arn) as client:
        yield client


async def test_an_avro_version_of_the_registry_is_fetched_with_its_definition(
    producer: GlueProducer, registry: GlueSchemaRegistry
) -> None:
    framed = producer.avro("orders", {"id": 7, "item": "tea"}, ORDER_AVRO)
    schema = await registry.fetch(_version_id(framed))
    assert schema.format is SchemaFormat.AVRO
    assert json.loads(schema.text) == ORDER_AVRO
    assert schema.references == {}  # a Glue schema refers to no other


async def test_a_json_schema_version_is_fetched_as_json(
    producer: GlueProducer, registry: GlueSchemaRegistry
) -> None:
    framed = producer.json("orders", {"id": 7}, ORDER_JSON, is_key=True)
    schema = await registry.fetch(_version_id(framed))
    assert schema.format is SchemaFormat.JSON
    assert json.loads(schema.text) == ORDER_JSON


async def test_a_protobuf_version_is_fetched_as_protobuf(
    producer: GlueProducer, registry: GlueSchemaRegistry
) -> None:
    order_class = compile_proto_messages({"shop/order.proto": ORDER_PROTO})["shop.Order"]
    framed = producer.protobuf("orders-value", order_class(id=7), ORDER_PROTO)
    schema = await registry.fetch(_version_id(framed))
    assert schema == RegisteredSchema(SchemaFormat.PROTOBUF, ORDER_PROTO)


async def test_each_version_of_a_schema_gives_its_own_definition(
    producer: GlueProducer, registry: GlueSchemaRegistry
) -> None:
    added = {"name": "quantity", "type": "int", "default": 1}
    evolved = {**ORDER_AVRO, "fields": [*ORDER_AVRO["fields"], added]}
    first = producer.avro("orders", {"id": 1, "item": "a"}, ORDER_AVRO)
    second = producer.avro("orders", {"id": 2, "item": "b", "quantity": 3}, evolved)
    assert _version_id(first) != _version_id(second)
    assert json.loads((await registry.fetch(_version_id(first))).text) == ORDER_AVRO
    assert json.loads((await registry.fetch(_version_id(second))).text) == evolved


async def test_an_unknown_version_is_not_found_and_the_reason_names_it(
    registry: GlueSchemaRegistry,
) -> None:
    unknown = uuid.uuid4()
    with pytest.raises(SchemaNotFound) as refused:
        await registry.fetch(unknown)
    assert refused.value.reason == f"Glue has no schema version {unknown}"


async def test_a_version_of_another_registry_is_refused_as_not_found(
    moto_server: MotoServer, registry: GlueSchemaRegistry
) -> None:
    with GlueProducer(moto_server) as elsewhere:
        framed = elsewhere.avro("orders", {"id": 7, "item": "tea"}, ORDER_AVRO)
        with pytest.raises(SchemaNotFound) as refused:
            await registry.fetch(_version_id(framed))
    schema_arn = elsewhere.registry_arn.replace(":registry/", ":schema/") + "/orders-value"
    assert refused.value.reason == (
        f"Glue schema version {_version_id(framed)} is a version of {schema_arn}, not of a "
        "schema in GLUE_SCHEMA_REGISTRY_ARN's registry"
    )


async def test_the_check_passes_for_a_registry_that_exists(registry: GlueSchemaRegistry) -> None:
    await registry.check()


async def test_the_check_names_the_setting_and_arn_of_a_registry_that_does_not_exist(
    moto_server: MotoServer,
) -> None:
    arn = f"arn:aws:glue:{REGION}:123456789012:registry/no-such-registry"
    async with _client(moto_server, arn) as client:
        with pytest.raises(SchemaRegistryStartupError) as refused:
            await client.check()
    message = str(refused.value)
    assert message.startswith(f"GLUE_SCHEMA_REGISTRY_ARN: Glue has no registry {arn} (")
    assert message.endswith("Check its name, region and account.")
    assert "\n" not in message


async def test_glue_is_asked_in_the_registrys_own_region(moto_server: MotoServer) -> None:
    with GlueProducer(moto_server, region="eu-west-1") as producer:
        assert ":eu-west-1:" in producer.registry_arn
        framed = producer.avro("orders", {"id": 1, "item": "a"}, ORDER_AVRO)
        async with _client(moto_server, producer.registry_arn) as client:
            await client.check()  # moto keeps registries per region: us-east-1 has none of them
            assert (await client.fetch(_version_id(framed))).format is SchemaFormat.AVRO


@pytest.mark.usefixtures("aws_test_credentials")
async def test_the_settings_name_the_registry_and_the_endpoint(
    moto_server: MotoServer, producer: GlueProducer
) -> None:
    settings = load_settings(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
            "KAFKA_TOPIC": "orders",
            "KAFKA_GROUP_ID": "bridge",
            "LAMBDA_FUNCTION_NAME": "handler",
            "GLUE_SCHEMA_REGISTRY_ARN": producer.registry_arn,
            "GLUE_ENDPOINT_URL": moto_server.endpoint_url,
        }
    )
    framed = producer.json("orders", {"id": 1}, ORDER_JSON)
    async with GlueSchemaRegistry.from_settings(settings) as client:
        assert client.description == producer.registry_arn
        await client.check()
        assert (await client.fetch(_version_id(framed))).format is SchemaFormat.JSON


async def test_an_unreachable_glue_is_unavailable_until_it_answers_again(
    own_moto_server: MotoServer,
) -> None:
    with GlueProducer(own_moto_server) as producer:
        framed = producer.avro("orders", {"id": 1, "item": "a"}, ORDER_AVRO)
        async with _client(own_moto_server, producer.registry_arn) as client:
            own_moto_server.stop()
            try:
                with pytest.raises(RegistryUnavailable, match=r"^Glue did not answer: "):
                    await client.fetch(_version_id(framed))
                with pytest.raises(SchemaRegistryStartupError) as refused:
                    await client.check()
                assert str(refused.value).startswith(
                    f"GLUE_SCHEMA_REGISTRY_ARN: could not reach {own_moto_server.endpoint_url} "
                )
            finally:
                own_moto_server.start()  # moto keeps its state: the registry answers again
            assert (await client.fetch(_version_id(framed))).format is SchemaFormat.AVRO


@dataclass
class IamWorld:
    """A registry with one Avro record's schema, and identities allowed one action each,
    on a server that checks every request against IAM."""

    moto: MotoServer
    registry_arn: str
    framed: bytes
    may_only_get_registry: aioboto3.Session
    may_only_get_schema_versions: aioboto3.Session


def _identity_allowed(moto: MotoServer, action: str) -> aioboto3.Session:
    """Keys of a new IAM user whose one policy allows `action` (on any resource: moto checks
    actions, not resources, for Glue)."""
    iam = boto3.client("iam", **moto.client_kwargs())
    user = f"bridge-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
    iam.put_user_policy(
        UserName=user,
        PolicyName="bridge",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return aioboto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )


@pytest.fixture
def iam_world(own_moto_server: MotoServer) -> Iterator[IamWorld]:
    with GlueProducer(own_moto_server) as producer:
        world = IamWorld(
            own_moto_server,
            producer.registry_arn,
            producer.avro("orders", {"id": 1, "item": "a"}, ORDER_AVRO),
            _identity_allowed(own_moto_server, "glue:GetRegistry"),
            _identity_allowed(own_moto_server, "glue:GetSchemaVersion"),
        )
        # moto's own switch: from now on every request is authenticated and authorized.
        switch = f"{own_moto_server.endpoint_url}/moto-api/reset-auth"
        previous = requests.post(switch, data=b"0", timeout=10).json()
        try:
            yield world
        finally:
            restore = str(previous["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]).encode()
            requests.post(switch, data=restore, timeout=10)


async def test_the_check_names_the_action_iam_denies_and_what_to_grant(
    iam_world: IamWorld,
) -> None:
    arn = iam_world.registry_arn
    async with _client(iam_world.moto, arn, iam_world.may_only_get_schema_versions) as client:
        with pytest.raises(SchemaRegistryStartupError) as refused:
            await client.check()
    message = str(refused.value)
    assert message.startswith(
        f"GLUE_SCHEMA_REGISTRY_ARN: this identity may not call glue:GetRegistry on {arn} ("
    )
    schemas = arn.replace(":registry/", ":schema/") + "/*"
    assert message.endswith(
        "Grant the task role glue:GetRegistry on the registry, and glue:GetSchemaVersion on "
        f"it and {schemas}."
    )
    assert "\n" not in message


async def test_a_denied_lookup_is_unavailable_not_a_reason_to_drop_records(
    iam_world: IamWorld,
) -> None:
    arn = iam_world.registry_arn
    async with _client(iam_world.moto, arn, iam_world.may_only_get_registry) as client:
        await client.check()  # it may read the registry ...
        with pytest.raises(RegistryUnavailable, match=r"^glue:GetSchemaVersion on schema version"):
            await client.fetch(_version_id(iam_world.framed))  # ... but none of its schemas


def test_the_hand_built_frame_is_the_glue_serializers_byte_for_byte() -> None:
    version = uuid.uuid4()
    body = b"\x0e\x06tea" * 50  # long enough for zlib to shrink it
    for compress in (False, True):
        assert glue_frame(version, body, compress=compress) == encode(body, version, compress)


async def test_a_compressed_part_names_the_same_version_before_its_deflated_body(
    producer: GlueProducer, registry: GlueSchemaRegistry
) -> None:
    plain = producer.avro("orders", {"id": 7, "item": "tea" * 40}, ORDER_AVRO)
    compressed = producer.avro("orders", {"id": 7, "item": "tea" * 40}, ORDER_AVRO, compress=True)
    assert (plain[1], compressed[1]) == (0, 5)  # Glue's compression byte: none, zlib
    assert _version_id(compressed) == _version_id(plain)
    assert zlib.decompress(compressed[18:]) == plain[18:]
    assert (await registry.fetch(_version_id(compressed))).format is SchemaFormat.AVRO


def test_the_protobuf_message_index_is_the_java_serdes_for_its_documented_example() -> None:
    # MessageIndexFinder's Javadoc: message B { message C {} message A { message D {} } }
    # is numbered B = 0, B.A = 1, B.A.D = 2, B.C = 3.
    file = descriptor_pb2.FileDescriptorProto(name="b.proto", package="x", syntax="proto3")
    b = file.message_type.add(name="B")
    b.nested_type.add(name="C")
    b.nested_type.add(name="A").nested_type.add(name="D")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    numbered = {name: glue_message_index(pool.FindMessageTypeByName(f"x.{name}"))
                for name in ("B", "B.A", "B.A.D", "B.C")}  # fmt: skip
    assert numbered == {"B": 0, "B.A": 1, "B.A.D": 2, "B.C": 3}
