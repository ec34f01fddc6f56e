"""The local Lambda for tests: a started server, and real aioboto3 clients pointed at it.

async def test_echo(local_lambda, lambda_client):
    local_lambda.add_function(FunctionSpec("echo", lambda event, context: event))
    async with lambda_client() as client:
        response = await client.invoke(FunctionName="echo", Payload=b"1")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import aioboto3
import pytest
from botocore.config import Config

from consumer.local.functions import DEFAULT_REGION
from consumer.local.server import LocalLambda
from consumer.local.threaded import ThreadedLocalLambda

# `lambda_client(**config)`: an `async with` aioboto3 Lambda client; config goes to botocore.
LambdaClientFactory = Callable[..., AbstractAsyncContextManager[Any]]


def lambda_client_config(**overrides: Any) -> Config:
    """No retries (a test sees each answer as sent) and short connect timeouts."""
    options: dict[str, Any] = {
        "retries": {"max_attempts": 0},
        "connect_timeout": 5,
        "read_timeout": 60,
        **overrides,
    }
    return Config(**options)


def lambda_client_factory(endpoint_url: str) -> LambdaClientFactory:
    session = aioboto3.Session()

    def client(**config: Any) -> AbstractAsyncContextManager[Any]:
        return session.client(  # type: ignore[no-any-return]
            "lambda",
            endpoint_url=endpoint_url,
            region_name=DEFAULT_REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=lambda_client_config(**config),
        )

    return client


@pytest.fixture
async def local_lambda() -> AsyncIterator[LocalLambda]:
    """A started LocalLambda on this test's loop, no functions yet: add them with add_function."""
    async with LocalLambda() as server:
        yield server


@pytest.fixture
def lambda_client(local_lambda: LocalLambda) -> LambdaClientFactory:
    """`async with lambda_client() as client:` a real aioboto3 Lambda client for local_lambda."""
    return lambda_client_factory(local_lambda.url)


@pytest.fixture
def threaded_local_lambda() -> Iterator[ThreadedLocalLambda]:
    """A LocalLambda on its own thread and loop, for sync clients or a test loop that blocks."""
    with ThreadedLocalLambda() as local:
        yield local
