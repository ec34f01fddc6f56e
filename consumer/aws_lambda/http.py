"""HTTP/1.1 to the Lambda endpoint: keep-alive connections, each request written whole in one
send, each answer parsed by httptools (llhttp, Node.js's parser).

Why not aiohttp: a general client pays for what an Invoke never uses (cookies, redirects,
header objects, tracing hooks, a response object with its stream and timers): measured here
at about 90 CPU-µs per 12 KB request, signing included, against 30 for this path; at ten
records per invocation the difference is a quarter of the bridge's whole CPU per record. What
is left to write is small: one request shape, a pool of idle connections; the parser is a
library.

An HTTP proxy is not supported (the AWS SDK would honour HTTPS_PROXY): the bridge refuses to
start when one applies to the endpoint, rather than going around it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import httptools


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case; a repeated header keeps its last value
    body: bytes


class ProtocolError(ConnectionError):
    """The endpoint's answer was not HTTP/1.1 this parser could read."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection, one request at a time.

    Invariants: `_waiting` is set exactly while a request is on the connection; `closed` is
    True once the transport is gone or the last answer said `Connection: close`, and then
    the connection is never used again.
    """

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiting: asyncio.Future[Answer] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self.closed = False

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(ProtocolError(f"unreadable answer from the Lambda endpoint: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionResetError("the Lambda endpoint closed the connection"))

    # -- httptools callbacks -----------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        answer = Answer(self._parser.get_status_code(), self._headers, b"".join(self._body))
        self._headers, self._body = {}, []
        if not self._parser.should_keep_alive():
            self.close()
        waiting, self._waiting = self._waiting, None
        if waiting is not None and not waiting.done():
            waiting.set_result(answer)

    # -- requests ----------------------------------------------------------------------

    def send(self, request: bytes) -> asyncio.Future[Answer]:
        assert self._transport is not None, "connected"
        assert self._waiting is None, "one request at a time"
        self._waiting = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return self._waiting

    def time_out(self, after_s: float) -> None:
        self._fail(TimeoutError(f"no answer from the Lambda endpoint within {after_s:g} s"))
        self.close()

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def _fail(self, error: Exception) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None and not waiting.done():
            waiting.set_exception(error)


class LambdaHttp:
    """POSTs to one endpoint over a pool of keep-alive connections.

    Invariant: `_idle` holds only open connections with no request on them, at most
    `max_idle` of them; a connection is taken from it (or made) per request and given back
    only if the answer came whole and said keep-alive.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        connect_timeout_s: float,
        read_timeout_s: float,
        max_idle: int,
    ) -> None:
        self._host, self._port, self._ssl = host, port, ssl_context
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._max_idle = max_idle
        self._idle: list[_Connection] = []

    async def post(self, request_head: bytes, body: bytes) -> Answer:
        """Sends `request_head` (request line and headers, ending in the blank line) and
        `body`; returns the answer, or raises OSError (connection) or TimeoutError."""
        connection = await self._connection()
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self._read_timeout_s, connection.time_out, self._read_timeout_s)
        try:
            answer = await connection.send(request_head + body)
        except BaseException:
            connection.close()  # cancelled or failed mid-request: its state is unknown
            raise
        finally:
            timer.cancel()
        if not connection.closed and len(self._idle) < self._max_idle:
            self._idle.append(connection)
        else:
            connection.close()
        return answer

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    async def _connection(self) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        factory: Callable[[], _Connection] = _Connection
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                _, connection = await loop.create_connection(
                    factory,
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl is not None else None,
                )
        except TimeoutError:
            raise TimeoutError(
                f"could not connect to {self._host}:{self._port} within "
                f"{self._connect_timeout_s:g} s"
            ) from None
        return connection
