"""Poison records, the function predicate that rejects them, and reading S3 dead letters."""

from __future__ import annotations

import base64
import json
from typing import Any

import aioboto3

from consumer.local import LocalLambda
from tests.support.bridge_harness import bridge_environment
from tests.support.kafka_records import KafkaTestClient, TestRecord
from tests.support.moto_fixtures import MotoServer

POISON = b'{"variant": "poison"}'
# One retry, and short waits: the tests are about where records go, not about patience.
FAST_RETRIES = {
    "max_retries": 1,
    "retry_backoff_base_ms": 1,
    "retry_backoff_max_ms": 20,
    "retry_function_errors_for_seconds": 0,  # dead-letter after the retries, not minutes
}


def carries_poison(event: Any) -> bool:
    """A `fail_when` predicate: the native-format event holds a poison record."""
    poison = base64.b64encode(POISON).decode()
    return any(r.get("value") == poison for rs in event["records"].values() for r in rs)


def records_with_poison(count: int, poison_at: int) -> list[TestRecord]:
    return [
        TestRecord(key=f"k{i % 37}".encode(), value=POISON if i == poison_at else f"{i}".encode())
        for i in range(count)
    ]


async def dead_letters_in(moto: MotoServer, bucket: str, prefix: str) -> list[dict[str, Any]]:
    """Every dead-letter document under `prefix`, with its object key as "key"."""
    documents = []
    async with aioboto3.Session().client("s3", **moto.client_kwargs()) as s3:
        listed = await s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        for item in listed.get("Contents", []):
            body = await (await s3.get_object(Bucket=bucket, Key=item["Key"]))["Body"].read()
            documents.append({"key": item["Key"], **json.loads(body)})
    return documents


def s3_environment(
    kafka: KafkaTestClient,
    local_lambda: LocalLambda,
    moto: MotoServer,
    bucket: str,
    topic: str,
    group: str,
    **overrides: Any,
) -> dict[str, str]:
    """The bridge's environment with dead letters to `s3://<bucket>/dead/` on moto."""
    return bridge_environment(
        kafka,
        local_lambda.url,
        topic,
        group,
        dlq=f"s3://{bucket}/dead/",
        s3_endpoint_url=moto.endpoint_url,
        **overrides,
    )
