"""ThreadedLocalLambda: the server on its own thread, for sync clients and blocking tests."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import boto3
import pytest

from consumer.local.functions import DEFAULT_REGION, FunctionSpec, LambdaContext
from consumer.local.server import LocalLambda
from consumer.local.threaded import ThreadedLocalLambda
from tests.support.lambda_fixtures import lambda_client_config, lambda_client_factory


def echo(event: Any, context: LambdaContext) -> Any:
    return event


def local_lambda_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("local-lambda")}


def test_sync_boto3_client_invokes_the_threaded_server() -> None:
    before = local_lambda_threads()
    with ThreadedLocalLambda(LocalLambda([FunctionSpec("echo", echo)])) as local:
        client = boto3.client(
            "lambda",
            endpoint_url=local.url,
            region_name=DEFAULT_REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=lambda_client_config(),
        )
        response = client.invoke(FunctionName="echo", Payload=b'{"sync": true}')
        assert json.loads(response["Payload"].read()) == {"sync": True}
        assert local.record.events("echo") == [{"sync": True}]
        client.close()
    assert local_lambda_threads() - before == set()


def test_start_failure_is_raised_in_the_callers_thread() -> None:
    before = local_lambda_threads()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="address already in use"):  # noqa: SIM117
            with ThreadedLocalLambda(LocalLambda(port=port)):
                pass
    assert local_lambda_threads() - before == set()


async def test_a_test_may_block_its_loop_while_the_threaded_server_answers(
    threaded_local_lambda: ThreadedLocalLambda,
) -> None:
    threaded_local_lambda.add_function(FunctionSpec("echo", echo))
    async with lambda_client_factory(threaded_local_lambda.url)() as client:
        response = await client.invoke(FunctionName="echo", InvocationType="Event", Payload=b"1")
    assert response["StatusCode"] == 202
    # Blocking wait on this loop: fine, the server runs on its own.
    threaded_local_lambda.record.wait_until(lambda r: r.events("echo") == [1], timeout_s=10)
