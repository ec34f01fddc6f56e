"""Producers' side of AWS Glue's schema registry, for tests: record parts in Glue's wire format,
byte for byte as Glue's serializers write them, with their schemas registered on moto.

Avro and JSON go through `aws_schema_registry` (the Python port of Glue's serde): its
`KafkaSerializer` registers the schema (`<topic>-key` / `<topic>-value`) and frames the
encoded part. The port has no Protobuf, so that frame is built here from the Java serde
(awslabs/aws-glue-schema-registry):
- `SerializationDataEncoder.write`: header version byte 3, compression byte (0 none, 5 zlib
  by `java.util.zip.Deflater` defaults, i.e. a zlib stream), the schema version UUID as its
  most then least significant 8 bytes, then the body;
- `ProtobufWireFormatEncoder`/`MessageIndexFinder`: the body is the message's index as one
  unsigned varint (`writeUInt32NoTag`), then the message's bytes. The index numbers every
  message type of the .proto file, nested ones included, in the order of their full names.
`glue_frame` is checked against the port's own encoder byte for byte. Protobuf message
classes come from .proto text with `tests.support.proto_messages.compile_proto_messages`.

    with GlueProducer(moto_server) as producer:
        value = producer.avro("orders", {"id": 7}, ORDER_AVSC)
        registry_arn = producer.registry_arn  # GLUE_SCHEMA_REGISTRY_ARN
"""

from __future__ import annotations

import uuid
import zlib
from typing import Any

import boto3
from aws_schema_registry import DataAndSchema, KafkaSerializer, SchemaRegistryClient
from aws_schema_registry.avro import AvroSchema
from aws_schema_registry.jsonschema import JsonSchema
from google.protobuf.descriptor import Descriptor, FileDescriptor
from google.protobuf.message import Message

from tests.support.moto_fixtures import MotoServer

HEADER_VERSION_BYTE = 3
COMPRESSION_NONE_BYTE = 0
COMPRESSION_ZLIB_BYTE = 5
HEADER_BYTES = 18  # the two bytes above and the 16-byte schema version UUID


def glue_frame(schema_version_id: uuid.UUID, body: bytes, *, compress: bool = False) -> bytes:
    """A record part in Glue's wire format, as `SerializationDataEncoder.write` makes it."""
    compression = COMPRESSION_ZLIB_BYTE if compress else COMPRESSION_NONE_BYTE
    data = zlib.compress(body) if compress else body
    return bytes([HEADER_VERSION_BYTE, compression]) + schema_version_id.bytes + data


def glue_message_index(message_type: Descriptor) -> int:
    """`MessageIndexFinder`'s number for a message type of its file."""
    names = sorted(descriptor.full_name for descriptor in _message_types(message_type.file))
    return names.index(message_type.full_name)


def glue_protobuf_body(message: Message) -> bytes:
    """The body Glue's Protobuf serializer writes: the message's index, then its bytes."""
    return _uvarint(glue_message_index(message.DESCRIPTOR)) + message.SerializeToString()


class GlueProducer:
    """Serializes record parts against a registry of its own on moto, registering schemas as
    Glue's serializers do with auto-registration on. Use as `with GlueProducer(moto) as p:`:
    the registry is deleted at the end (moto, like Glue, allows an account few registries,
    and its state outlives a server)."""

    def __init__(self, moto: MotoServer, *, region: str | None = None) -> None:
        kwargs = moto.client_kwargs() | ({"region_name": region} if region else {})
        self.glue: Any = boto3.client("glue", **kwargs)
        self.registry_name = f"registry-{uuid.uuid4().hex[:12]}"
        created = self.glue.create_registry(RegistryName=self.registry_name)
        self.registry_arn: str = created["RegistryArn"]
        self._registry = SchemaRegistryClient(self.glue, registry_name=self.registry_name)

    def __enter__(self) -> GlueProducer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.glue.delete_registry(RegistryId={"RegistryName": self.registry_name})

    def avro(
        self,
        topic: str,
        value: Any,
        schema: dict[str, Any],
        *,
        is_key: bool = False,
        compress: bool = False,
    ) -> bytes:
        part = DataAndSchema(value, AvroSchema(schema))
        return self._serialized(topic, part, is_key=is_key, compress=compress)

    def json(
        self,
        topic: str,
        value: Any,
        schema: dict[str, Any],
        *,
        is_key: bool = False,
        compress: bool = False,
    ) -> bytes:
        part = DataAndSchema(value, JsonSchema(schema))
        return self._serialized(topic, part, is_key=is_key, compress=compress)

    def protobuf(
        self, schema_name: str, message: Message, definition: str, *, compress: bool = False
    ) -> bytes:
        """`message` framed with the version of schema `schema_name` whose text is `definition`
        (the .proto the message's type was compiled from)."""
        version = self.register(schema_name, "PROTOBUF", definition)
        return glue_frame(version, glue_protobuf_body(message), compress=compress)

    def register(self, schema_name: str, data_format: str, definition: str) -> uuid.UUID:
        """The version id of `definition` under `schema_name`, registered if it is new."""
        version = self._registry.get_or_register_schema_version(
            definition=definition,
            schema_name=schema_name,
            data_format=data_format,  # the port's type names AVRO and JSON; Glue takes PROTOBUF
            compatibility_mode="NONE",
        )
        return version.version_id

    def _serialized(
        self, topic: str, part: DataAndSchema, *, is_key: bool, compress: bool
    ) -> bytes:
        framed: bytes = KafkaSerializer(self._registry, is_key=is_key).serialize(topic, part)
        if not compress:
            return framed
        # The port's serializer never compresses; Java's does with COMPRESSION_TYPE=ZLIB.
        version = uuid.UUID(bytes=framed[2:HEADER_BYTES])
        return glue_frame(version, framed[HEADER_BYTES:], compress=True)


def _message_types(file: FileDescriptor) -> list[Descriptor]:
    found: list[Descriptor] = []
    pending = list(file.message_types_by_name.values())
    while pending:
        descriptor = pending.pop(0)
        found.append(descriptor)
        pending.extend(descriptor.nested_types)
    return found


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)
