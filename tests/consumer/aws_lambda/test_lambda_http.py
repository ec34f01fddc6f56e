"""The invoke path's connections: kept alive and reused, replaced when the endpoint closes
them, and every way an answer can go wrong is a retryable outcome, never a crash or a hang.

The endpoint is a real TCP server (asyncio) answering with scripted bytes, so answers no
well-behaved server library would send (cut off, garbled, chunked) can be sent; TLS is a
real aiohttp server with a throwaway CA; the AWS SDK's proxy variables are refused clearly.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from consumer.aws_lambda.answers import InvokeResult, Outcome
from consumer.errors import LambdaStartupError
from consumer.local.lambda_api import INVOKE_ROUTE
from tests.consumer.aws_lambda.test_invoke_path import invoker

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnull"
CLOSE_AFTER = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnull"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Amz-Function-Error: Unhandled\r\n\r\n"
    b'10\r\n{"errorType":"Ke\r\nE\r\nyError","x":1}\r\n0\r\n\r\n'
)
CUT_OFF = b'HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n{"partial'
GARBLED = b"HTTP/9.9 two hundred\r\n\r\n"
HANG_UP = b""  # close the connection without answering
HOLD = b"hold"  # answer OK once released


class RawLambda:
    """Answers each request with the next of `answers` (bytes; HANG_UP closes instead) and
    notes which connection (the client's port) each request came on."""

    def __init__(self) -> None:
        self.answers: list[bytes] = []
        self.ports: list[int] = []
        self.url = ""
        self.received = asyncio.Event()  # set at each request
        self.release = asyncio.Event()  # a HOLD answer waits for it, then answers OK

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = writer.get_extra_info("peername")[1]
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                self.ports.append(port)
                self.received.set()
                answer = self.answers.pop(0) if self.answers else OK
                if answer == HANG_UP:
                    break
                if answer == HOLD:
                    await self.release.wait()
                    answer = OK
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer or answer in (CUT_OFF, GARBLED):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def raw_lambda() -> AsyncIterator[RawLambda]:
    endpoint = RawLambda()
    server = await asyncio.start_server(endpoint.serve, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    endpoint.url = f"http://{host}:{port}"
    async with server:
        yield endpoint


@pytest.fixture(autouse=True)
def aws_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


async def invoke_each(url: str, times: int, **env: str) -> list[InvokeResult]:
    async with invoker(url, **env) as bridge_invoker:
        return [await bridge_invoker.invoke(b'{"n": 1}') for _ in range(times)]


async def test_one_connection_serves_invocation_after_invocation(raw_lambda: RawLambda) -> None:
    results = await invoke_each(raw_lambda.url, 5)
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 5
    assert len(raw_lambda.ports) == 5
    assert len(set(raw_lambda.ports)) == 1, "the connection is kept alive"


async def test_a_connection_the_endpoint_closes_is_replaced(raw_lambda: RawLambda) -> None:
    raw_lambda.answers = [CLOSE_AFTER, OK]
    results = await invoke_each(raw_lambda.url, 2)
    assert [r.outcome for r in results] == [Outcome.DELIVERED, Outcome.DELIVERED]
    assert len(set(raw_lambda.ports)) == 2


async def test_a_chunked_answer_is_read_whole(raw_lambda: RawLambda) -> None:
    raw_lambda.answers = [CHUNKED]
    [result] = await invoke_each(raw_lambda.url, 1)
    assert (result.outcome, result.error_type) == (Outcome.FUNCTION_ERROR, "KeyError")


@pytest.mark.parametrize(
    ("answer", "error_type"),
    [
        (HANG_UP, "ConnectionResetError"),
        (CUT_OFF, "ConnectionResetError"),
        (GARBLED, "ProtocolError"),
    ],
    ids=["hang-up", "cut-off", "garbled"],
)
async def test_a_broken_answer_is_retryable_and_the_next_invocation_goes_through(
    raw_lambda: RawLambda, answer: bytes, error_type: str
) -> None:
    raw_lambda.answers = [answer, OK]
    first, second = await invoke_each(raw_lambda.url, 2)
    assert (first.outcome, first.error_type) == (Outcome.RETRYABLE, error_type)
    assert first.error_message
    assert second.outcome is Outcome.DELIVERED
    assert len(set(raw_lambda.ports)) == 2, "a broken connection is never reused"


async def test_an_invocation_cancelled_mid_answer_leaves_no_answer_behind(
    raw_lambda: RawLambda,
) -> None:
    """A revoke cancels deliveries: the next invocation must not read the old answer."""
    raw_lambda.answers = [HOLD, b'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n"mine"']
    async with invoker(raw_lambda.url) as bridge_invoker:
        first = asyncio.create_task(bridge_invoker.invoke(b"{}"))
        await raw_lambda.received.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        raw_lambda.release.set()  # the old answer is sent now, to a closed connection
        second = await bridge_invoker.invoke(b"{}")
    assert second.outcome is Outcome.DELIVERED
    assert len(set(raw_lambda.ports)) == 2


async def test_nothing_listening_is_retryable() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    [result] = await invoke_each(f"http://127.0.0.1:{port}", 1)
    assert result.outcome is Outcome.RETRYABLE
    assert result.error_type == "ConnectionRefusedError"


@pytest.fixture
def ca(tmp_path: Path) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    return authority, bundle


async def _tls_lambda(authority: trustme.CA) -> tuple[web.AppRunner, str]:
    async def invoke(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"seen": True})

    app = web.Application()
    app.router.add_post(INVOKE_ROUTE, invoke)
    runner = web.AppRunner(app)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"https://localhost:{port}"


async def test_an_https_endpoint_is_verified_against_aws_ca_bundle(
    ca: tuple[trustme.CA, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    authority, bundle = ca
    runner, url = await _tls_lambda(authority)
    try:
        monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))
        [trusted] = await invoke_each(url, 1)
        monkeypatch.delenv("AWS_CA_BUNDLE")
        [stranger] = await invoke_each(url, 1)  # certifi's bundle does not know this CA
    finally:
        await runner.cleanup()
    assert trusted.outcome is Outcome.DELIVERED
    assert stranger.outcome is Outcome.RETRYABLE
    assert stranger.error_type == "SSLCertVerificationError"


@pytest.mark.parametrize(
    ("variable", "url"),
    [("HTTPS_PROXY", "https://lambda.example.test"), ("HTTP_PROXY", "http://lambda.example.test")],
)
async def test_a_proxy_the_sdk_would_use_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, variable: str, url: str
) -> None:
    monkeypatch.setenv(variable, "http://proxy.example.test:3128")
    with pytest.raises(LambdaStartupError) as refused:
        async with invoker(url):
            pass
    message = str(refused.value)
    assert message.startswith(f"{variable} is set")
    assert "lambda.example.test" in message
    assert "NO_PROXY" in message


async def test_an_endpoint_in_no_proxy_is_not_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.test:3128")
    monkeypatch.setenv("NO_PROXY", "lambda.example.test")
    async with invoker("https://lambda.example.test") as opened:  # nothing is sent yet
        assert opened is not None


async def test_a_loopback_endpoint_never_goes_through_a_proxy(
    raw_lambda: RawLambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.test:3128")  # would not resolve
    [result] = await invoke_each(raw_lambda.url, 1)
    assert result.outcome is Outcome.DELIVERED
