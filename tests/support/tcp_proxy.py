"""A TCP forwarder in front of a real server, which a test can take down and bring back.

Down, it drops every open connection and hangs up on each new one at once (keeping its port,
so it comes back where the client expects it): what a client sees when a server behind a
load balancer goes away. Up, it forwards again. Nothing is answered on the server's behalf.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._down = False
        self.port = 0
        self.refused = 0  # connections hung up on while down

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._drop_open()
            await self._server.wait_closed()

    def down(self) -> None:
        self._down = True
        self._drop_open()

    def up(self) -> None:
        self._down = False

    def _drop_open(self) -> None:
        for writer in list(self._open):
            writer.close()

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        if self._down:
            self.refused += 1
            client.close()
            return
        try:
            server_reader, server = await asyncio.open_connection(*self._target)
        except OSError:
            client.close()
            return
        self._open.update((client, server))
        try:
            await asyncio.gather(_pipe(client_reader, server), _pipe(server_reader, client))
        finally:
            for writer in (client, server):
                self._open.discard(writer)
                writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.asynccontextmanager
async def proxy_to(host: str, port: int) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(host, port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
