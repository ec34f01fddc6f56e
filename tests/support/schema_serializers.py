"""Record bytes exactly as Confluent's producers write them, for records the bridge decodes.

Each function runs confluent-kafka's own serializer against a real registry: the schema is
registered under the topic's subject (`<topic>-value`, or `<topic>-key` with `is_key=True`)
unless the subject already has it, and the result is the Confluent wire format: a zero
byte, the schema id (4 bytes, big-endian), for Protobuf the message indexes, then the
Avro, JSON or Protobuf encoding of the value.

    value = avro_bytes(schema_registry.url, topic, ORDER_AVSC, {"id": "o-1", "cents": 250})

For a registry that wants HTTP basic credentials, pass `basic_auth=(username, password)`.
Protobuf message classes come from .proto text with
`tests.support.proto_messages.compile_proto_messages`.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf.message import Message


def registry_client(
    registry_url: str, *, basic_auth: tuple[str, str] | None = None
) -> SchemaRegistryClient:
    conf = {"url": registry_url}
    if basic_auth is not None:
        conf["basic.auth.user.info"] = ":".join(basic_auth)
    return SchemaRegistryClient(conf)


def _context(topic: str, is_key: bool) -> SerializationContext:
    return SerializationContext(topic, MessageField.KEY if is_key else MessageField.VALUE)


def avro_bytes(
    registry_url: str,
    topic: str,
    schema_str: str,
    obj: Any,
    *,
    is_key: bool = False,
    basic_auth: tuple[str, str] | None = None,
) -> bytes:
    """`obj` (a dict, or any value the schema describes) written as Confluent's Avro producer."""
    serializer = AvroSerializer(registry_client(registry_url, basic_auth=basic_auth), schema_str)
    written: bytes = serializer(obj, _context(topic, is_key))
    return written


def json_schema_bytes(
    registry_url: str,
    topic: str,
    schema_str: str,
    obj: Any,
    *,
    is_key: bool = False,
    basic_auth: tuple[str, str] | None = None,
) -> bytes:
    """`obj` written as Confluent's JSON Schema producer (which validates it first).

    The registry here (Apicurio) takes a schema for JSON Schema only if it has top-level
    `properties` or a `$schema` naming json-schema.org; give one of them (422 otherwise).
    """
    serializer = JSONSerializer(schema_str, registry_client(registry_url, basic_auth=basic_auth))
    written: bytes = serializer(obj, _context(topic, is_key))
    return written


def protobuf_bytes(
    registry_url: str,
    topic: str,
    message: Message,
    *,
    is_key: bool = False,
    basic_auth: tuple[str, str] | None = None,
) -> bytes:
    """`message` written as Confluent's Protobuf producer. Its imports are registered first,
    each under its file name as subject and referenced by the topic's schema; the
    well-known types (`google/protobuf/…`) are not registered, as Confluent's serializer
    skips them."""
    client = registry_client(registry_url, basic_auth=basic_auth)
    serializer = ProtobufSerializer(type(message), client)
    written: bytes = serializer(message, _context(topic, is_key))
    return written


def wire_schema_id(record: bytes) -> int:
    """The schema id of a record in the Confluent wire format."""
    if len(record) < 5 or record[0] != 0:
        raise ValueError(f"not the Confluent wire format: {record[:5]!r}")
    return int.from_bytes(record[1:5], "big")
