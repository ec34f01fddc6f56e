"""The schema registry fixtures are real: Confluent's own serializers register their schemas on
Apicurio Registry's Confluent API, a record's schema id resolves to its schema, Protobuf
imports become references that resolve, and the protected registry wants its credentials."""

from __future__ import annotations

import base64
import io
import json
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fastavro
import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError
from google.protobuf import descriptor_pb2, timestamp_pb2

from consumer.local.broker_process import BrokerStartError
from tests.support.proto_messages import compile_proto_messages
from tests.support.schema_registry_server import (
    SchemaRegistryBuildError,
    SchemaRegistryServer,
    ensure_registry_built,
    registry_run_jar,
)
from tests.support.schema_serializers import (
    avro_bytes,
    json_schema_bytes,
    protobuf_bytes,
    wire_schema_id,
)

ORDER_AVRO_V1 = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [{"name": "id", "type": "string"}, {"name": "cents", "type": "long"}],
}
# v1 plus a field with a default: a reader of v2 can read v1 records (BACKWARD compatible).
ORDER_AVRO_V2 = {
    **ORDER_AVRO_V1,
    "fields": [*ORDER_AVRO_V1["fields"], {"name": "currency", "type": "string", "default": "EUR"}],
}
ORDER_JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Order",
    "type": "object",
    "properties": {"id": {"type": "string"}, "cents": {"type": "integer"}},
    "required": ["id", "cents"],
}


def _get(url: str, *, basic_auth: tuple[str, str] | None = None) -> tuple[int, Any, Any]:
    """GET `url`: the status, the JSON body (None if not JSON) and the headers."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if basic_auth is not None:
        token = base64.b64encode(":".join(basic_auth).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, body, headers = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as refused:
        status, body, headers = refused.code, refused.read(), refused.headers
    try:
        return status, json.loads(body), headers
    except ValueError:
        return status, None, headers


def _schema_by_id(registry: SchemaRegistryServer, schema_id: int) -> dict[str, Any]:
    status, body, _ = _get(f"{registry.url}/schemas/ids/{schema_id}")
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def _proto_sources(package: str) -> dict[str, str]:
    """An order that imports a money file of its own and a well-known type."""
    return {
        f"{package}/money.proto": (
            f'syntax = "proto3";\npackage {package};\n\n'
            "message Money {\n  string currency = 1;\n  int64 cents = 2;\n}\n"
        ),
        f"{package}/order.proto": (
            f'syntax = "proto3";\npackage {package};\n\n'
            'import "google/protobuf/timestamp.proto";\n'
            f'import "{package}/money.proto";\n\n'
            "message Order {\n  string id = 1;\n  Money total = 2;\n"
            "  google.protobuf.Timestamp placed_at = 3;\n}\n"
        ),
    }


def test_the_confluent_api_answers_and_reports_an_unknown_subject_as_confluent_does(
    schema_registry: SchemaRegistryServer, topic_name: str
) -> None:
    status, subjects, _ = _get(f"{schema_registry.url}/subjects")
    assert status == 200
    assert isinstance(subjects, list)

    status, error, _ = _get(f"{schema_registry.url}/subjects/{topic_name}-value/versions")
    assert status == 404
    assert error["error_code"] == 40401  # Confluent's "subject not found"


def test_an_avro_record_carries_the_id_of_its_schema_and_decodes_with_it(
    schema_registry: SchemaRegistryServer, topic_name: str
) -> None:
    order = {"id": "o-1", "cents": 250}
    record = avro_bytes(schema_registry.url, topic_name, json.dumps(ORDER_AVRO_V1), order)

    registered = _schema_by_id(schema_registry, wire_schema_id(record))
    assert registered.get("schemaType", "AVRO") == "AVRO"  # Confluent leaves it out for Avro
    writer_schema = fastavro.parse_schema(json.loads(registered["schema"]))
    assert fastavro.schemaless_reader(io.BytesIO(record[5:]), writer_schema) == order


def test_a_json_schema_record_carries_the_id_of_its_schema(
    schema_registry: SchemaRegistryServer, topic_name: str
) -> None:
    order = {"id": "o-2", "cents": 990}
    record = json_schema_bytes(
        schema_registry.url, topic_name, json.dumps(ORDER_JSON_SCHEMA), order, is_key=True
    )

    registered = _schema_by_id(schema_registry, wire_schema_id(record))
    assert registered["schemaType"] == "JSON"
    assert json.loads(registered["schema"]) == ORDER_JSON_SCHEMA
    assert json.loads(record[5:]) == order
    status, versions, _ = _get(f"{schema_registry.url}/subjects/{topic_name}-key/versions")
    assert (status, versions) == (200, [1])


def test_a_protobuf_record_carries_its_schema_id_and_message_index(
    schema_registry: SchemaRegistryServer, topic_name: str
) -> None:
    package = f"t{uuid.uuid4().hex[:10]}"
    classes = compile_proto_messages(_proto_sources(package))
    order: Any = classes[f"{package}.Order"](id="o-3")  # fields made at run time
    order.total.currency, order.total.cents = "EUR", 1250
    order.placed_at.FromSeconds(1_700_000_000)
    record = protobuf_bytes(schema_registry.url, topic_name, order)

    registered = _schema_by_id(schema_registry, wire_schema_id(record))
    assert registered["schemaType"] == "PROTOBUF"
    assert record[5] == 0  # message indexes [0], the file's first message, as one zero byte
    assert classes[f"{package}.Order"].FromString(record[6:]) == order


def test_protobuf_imports_are_registered_as_references_that_resolve(
    schema_registry: SchemaRegistryServer, topic_name: str
) -> None:
    package = f"t{uuid.uuid4().hex[:10]}"
    classes = compile_proto_messages(_proto_sources(package))
    record = protobuf_bytes(schema_registry.url, topic_name, classes[f"{package}.Order"]())

    registered = _schema_by_id(schema_registry, wire_schema_id(record))
    # The imported file is a reference under its file name; the well-known type is not.
    money_file = f"{package}/money.proto"
    assert registered["references"] == [{"name": money_file, "subject": money_file, "version": 1}]
    status, money, _ = _get(
        f"{schema_registry.url}/subjects/{quote(money_file, safe='')}/versions/1"
    )
    assert status == 200
    assert money["subject"] == money_file
    assert money["schemaType"] == "PROTOBUF"
    # As the Python serializer sent it: a base64 FileDescriptorProto. (Confluent's registry
    # would answer .proto text here, and base64 only for ?format=serialized.)
    described = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(money["schema"]))
    assert described.name == money_file
    assert [message.name for message in described.message_type] == ["Money"]
    assert timestamp_pb2.DESCRIPTOR.name not in {r["name"] for r in registered["references"]}


def test_a_compatible_v2_gets_its_own_id_and_v1_records_keep_v1s(
    schema_registry: SchemaRegistryServer, topic_name: str
) -> None:
    url, v1, v2 = schema_registry.url, json.dumps(ORDER_AVRO_V1), json.dumps(ORDER_AVRO_V2)
    first = avro_bytes(url, topic_name, v1, {"id": "o-4", "cents": 1})
    evolved = avro_bytes(url, topic_name, v2, {"id": "o-5", "cents": 2, "currency": "USD"})
    again = avro_bytes(url, topic_name, v1, {"id": "o-6", "cents": 3})

    assert wire_schema_id(evolved) != wire_schema_id(first)
    assert wire_schema_id(again) == wire_schema_id(first)
    status, versions, _ = _get(f"{url}/subjects/{topic_name}-value/versions")
    assert (status, versions) == (200, [1, 2])
    status, latest, _ = _get(f"{url}/subjects/{topic_name}-value/versions/latest")
    assert (latest["version"], latest["id"]) == (2, wire_schema_id(evolved))


def test_the_protected_registry_answers_401_without_the_right_credentials(
    schema_registry_with_basic_auth: SchemaRegistryServer,
) -> None:
    registry = schema_registry_with_basic_auth
    assert registry.basic_auth is not None
    user = (registry.basic_auth.username, registry.basic_auth.password)
    subjects = f"{registry.url}/subjects"

    assert _get(subjects, basic_auth=user)[0] == 200
    assert _get(subjects, basic_auth=(user[0], "not-the-secret"))[0] == 401
    assert _get(subjects, basic_auth=("someone-else", user[1]))[0] == 401
    status, _, headers = _get(subjects)
    assert status == 401
    assert headers["WWW-Authenticate"].lower().startswith("basic realm=")


def test_serializers_send_the_credentials_and_a_refusal_is_a_401(
    schema_registry_with_basic_auth: SchemaRegistryServer, topic_name: str
) -> None:
    registry = schema_registry_with_basic_auth
    assert registry.basic_auth is not None
    user = (registry.basic_auth.username, registry.basic_auth.password)
    schema, order = json.dumps(ORDER_AVRO_V1), {"id": "o-7", "cents": 7}

    record = avro_bytes(registry.url, topic_name, schema, order, basic_auth=user)
    assert _get(f"{registry.url}/schemas/ids/{wire_schema_id(record)}", basic_auth=user)[0] == 200
    with pytest.raises(SchemaRegistryError) as refused:
        avro_bytes(registry.url, f"{topic_name}-2", schema, order, basic_auth=(user[0], "wrong"))
    assert refused.value.http_status_code == 401


def test_a_json_schema_is_taken_for_one_only_with_properties_or_a_json_schema_org_uri(
    schema_registry: SchemaRegistryServer, topic_name: str
) -> None:
    # Apicurio infers the type from the text and refuses a schemaType that disagrees; a bare
    # {"type": "string"} reads as Avro. Confluent's registry takes any of these as JSON.
    bare = json.dumps({"type": "array", "items": {"type": "string"}})
    with pytest.raises(SchemaRegistryError) as refused:
        json_schema_bytes(schema_registry.url, topic_name, bare, ["a"])
    assert refused.value.http_status_code == 422

    marked = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#", **json.loads(bare)})
    record = json_schema_bytes(schema_registry.url, topic_name, marked, ["a"])
    assert _schema_by_id(schema_registry, wire_schema_id(record))["schemaType"] == "JSON"


def test_the_open_registry_ignores_credentials_as_an_open_confluent_registry_does(
    schema_registry: SchemaRegistryServer, topic_name: str
) -> None:
    schema, order = json.dumps(ORDER_AVRO_V1), {"id": "o-8", "cents": 8}
    record = avro_bytes(schema_registry.url, topic_name, schema, order, basic_auth=("any", "thing"))
    assert _get(f"{schema_registry.url}/schemas/ids/{wire_schema_id(record)}")[0] == 200


def test_a_built_registry_starts_without_maven(
    schema_registry: SchemaRegistryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = ensure_registry_built()  # the fixture has built it
    monkeypatch.setenv("PATH", "")  # no mvn (nor anything else) can be found now
    assert ensure_registry_built() == built
    assert built == registry_run_jar()


def test_a_missing_maven_is_named_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(SchemaRegistryBuildError) as failure:
        ensure_registry_built(cache_dir=tmp_path / "cache")
    message = str(failure.value)
    assert "Maven (mvn) is not on PATH" in message
    assert "\n" not in message


def test_a_missing_java_is_named_in_one_line_when_starting(
    schema_registry: SchemaRegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "")
    server = SchemaRegistryServer(registry_run_jar(), tmp_path / "registry.log")
    with pytest.raises(BrokerStartError) as failure:
        server.start()
    assert "Java 17 (java) is not on PATH" in str(failure.value)
    assert "\n" not in str(failure.value)
    assert server.pid is None


def test_a_failed_build_points_at_its_log_in_one_line(tmp_path: Path) -> None:
    # A real Maven run, offline against an empty local repository, cannot resolve anything.
    if shutil.which("mvn") is None or shutil.which("java") is None:
        pytest.skip("mvn or java is not installed")
    cache = tmp_path / "cache"
    with pytest.raises(SchemaRegistryBuildError) as failure:
        ensure_registry_built(
            cache_dir=cache,
            maven_args=("--offline", f"-Dmaven.repo.local={tmp_path / 'empty-repo'}"),
        )
    message = str(failure.value)
    assert str(cache / "build.log") in message
    assert "\n" not in message
    assert "Maven exit 1" in message
    assert not (cache / "built.ok").exists(), "a failed build left a stamp"
