"""LocalLambda's lifecycle: where it listens, and that stop() leaves nothing behind."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from consumer.local.functions import FunctionSpec, LambdaContext
from consumer.local.invocations import Outcome
from consumer.local.server import LocalLambda
from tests.support.lambda_fixtures import lambda_client_factory


def echo(event: Any, context: LambdaContext) -> Any:
    return event


def handler_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("local-lambda-handler")}


async def test_start_reports_the_port_the_os_chose() -> None:
    server = LocalLambda()
    with pytest.raises(RuntimeError, match="once start\\(\\) has returned"):
        server.url  # noqa: B018 - the access is the test
    url = await server.start()
    try:
        assert url == server.url
        assert url.startswith("http://127.0.0.1:")
        assert int(url.rsplit(":", 1)[1]) > 0
    finally:
        await server.stop()


async def test_a_server_runs_once() -> None:
    async with LocalLambda() as server:
        with pytest.raises(RuntimeError, match="runs once"):
            await server.start()


async def test_stop_ends_the_handler_threads() -> None:
    before = handler_threads()
    async with LocalLambda([FunctionSpec("echo", echo)]) as server:
        async with lambda_client_factory(server.url)() as client:
            await client.invoke(FunctionName="echo", Payload=b"{}")
        assert handler_threads() - before  # the invocation ran on one of the server's threads
    assert handler_threads() - before == set()


async def test_stop_cancels_background_event_invocations() -> None:
    async with LocalLambda([FunctionSpec("slow", echo, latency_s=60, timeout_s=120)]) as server:
        async with lambda_client_factory(server.url)() as client:
            await client.invoke(FunctionName="slow", InvocationType="Event", Payload=b"{}")
        await server.record.wait_until_async(lambda r: r.in_flight("slow") == 1, 10)
    assert server.record.outcomes("slow") == [Outcome.ABORTED]
    assert server.record.in_flight("slow") == 0


async def test_removed_function_is_not_found() -> None:
    async with LocalLambda([FunctionSpec("gone", echo)]) as server:
        server.remove_function("gone")
        async with lambda_client_factory(server.url)() as client:
            with pytest.raises(client.exceptions.ResourceNotFoundException):
                await client.invoke(FunctionName="gone", Payload=b"{}")
