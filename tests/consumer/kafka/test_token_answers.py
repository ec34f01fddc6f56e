"""What an identity provider answers is hostile input too: an echo of the request, an answer
too large or nested too deeply is one bounded line, without the client secret in any form."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from consumer.kafka.tokens import (
    MAX_TOKEN_ANSWER_BYTES,
    TokenUnavailableError,
    oidc_client_credentials,
)
from consumer.local.broker_process import free_loopback_port

CLIENT_ID, CLIENT_SECRET = "client-7", "the-client-secret-never-shown-44"
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()


@asynccontextmanager
async def provider(answer: Callable[[web.Request], web.Response]) -> AsyncIterator[str]:
    async def token(request: web.Request) -> web.Response:
        return answer(request)

    app = web.Application()
    app.router.add_post("/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_loopback_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/token"
    finally:
        await runner.cleanup()


def echo(request: web.Request) -> web.Response:
    """A provider that echoes the request's headers, Authorization included, in its error."""
    headers = dict(request.headers)
    return web.json_response(
        {"error": headers["Authorization"], "error_description": json.dumps(headers)}, status=400
    )


def huge(request: web.Request) -> web.Response:
    return web.json_response({"error": "x" * MAX_TOKEN_ANSWER_BYTES}, status=400)


def deep(request: web.Request) -> web.Response:
    return web.Response(text="[" * 20_000 + "]" * 20_000, status=200)  # 40 KB


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (echo, "an error code that is not one"),
        (huge, "an answer over 65,536 bytes"),
        (deep, "an answer nested too deeply"),
    ],
)
async def test_a_hostile_token_answer_is_one_bounded_line_without_the_secret(
    answer: Callable[[web.Request], web.Response], said: str
) -> None:
    async with provider(answer) as url:
        fetch = oidc_client_credentials(url, CLIENT_ID, CLIENT_SECRET, None)
        with pytest.raises(TokenUnavailableError) as refused:
            await fetch()
    message = str(refused.value)
    assert said in message
    assert len(message) < 400
    assert CLIENT_SECRET not in message
    assert BASIC not in message
    assert "Authorization" not in message
