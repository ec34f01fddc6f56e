"""LocalLambda: a local Lambda service that runs Python handlers behind the real Invoke API."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Iterable
from types import TracebackType
from typing import Any

from aiohttp import web

from consumer.local.execution import FunctionRuntime, HandlerPool
from consumer.local.functions import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, FunctionSpec
from consumer.local.invocations import Invocation, InvocationRecord
from consumer.local.lambda_api import LambdaApi

log = logging.getLogger(__name__)


class LocalLambda:
    """Serves the Lambda Invoke API for its functions on a local port; AWS clients reach it
    with `endpoint_url=await server.start()`.

    Invariants: a LocalLambda runs once (start, then stop). Functions can be added or replaced
    from any thread at any time: an invocation arriving afterwards runs the new spec, one
    already running finishes on the old. After stop() nothing it started is left: no socket,
    no task, no handler thread (one stuck past `stop_grace_s` is reported and left to finish).

    Example::

        async with LocalLambda([FunctionSpec("echo", lambda event, context: event)]) as server:
            async with session.client("lambda", endpoint_url=server.url, ...) as client:
                await client.invoke(FunctionName="echo", Payload=b'{"a": 1}')
            assert server.record.events("echo") == [{"a": 1}]
    """

    def __init__(
        self,
        functions: Iterable[FunctionSpec] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,  # 0: a free port chosen by the OS; `url` tells which
        handler_threads: int = 64,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        stop_grace_s: float = 5.0,
        record_max_kept: int | None = None,
    ) -> None:
        self.record = InvocationRecord(max_kept=record_max_kept)
        self._host = host
        self._port = port
        self._region = region
        self._account_id = account_id
        self._stop_grace_s = stop_grace_s
        self._pool = HandlerPool(handler_threads)
        # Replaced whole under the lock, never mutated: the loop reads it without locking.
        self._runtimes: dict[str, FunctionRuntime] = {}
        self._registry_lock = threading.Lock()
        self._background: set[asyncio.Task[Invocation]] = set()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._stopped = False
        for spec in functions:
            self.add_function(spec)

    def add_function(self, spec: FunctionSpec) -> None:
        """Registers `spec`, replacing a function of the same name. Safe from any thread."""
        runtime = FunctionRuntime(
            spec,
            pool=self._pool,
            record=self.record,
            region=self._region,
            account_id=self._account_id,
        )
        with self._registry_lock:
            self._runtimes = {**self._runtimes, spec.name: runtime}

    def remove_function(self, name: str) -> None:
        with self._registry_lock:
            self._runtimes = {n: r for n, r in self._runtimes.items() if n != name}

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("LocalLambda.url is known once start() has returned.")
        return self._url

    async def start(self) -> str:
        """Starts listening; returns the endpoint URL."""
        if self._runner is not None:
            raise RuntimeError("LocalLambda runs once: create a new one to start again.")
        api = LambdaApi(
            lookup=self._find,
            record=self.record,
            spawn=self._spawn,
            region=self._region,
            account_id=self._account_id,
        )
        self._runner = web.AppRunner(
            api.application(), access_log=None, shutdown_timeout=self._stop_grace_s
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"
        return self._url

    async def stop(self) -> None:
        """Stops accepting, lets running requests finish (up to stop_grace_s), cancels
        background Event invocations, and frees the handler threads."""
        if self._stopped:
            return
        self._stopped = True
        if self._runner is not None:
            await self._runner.cleanup()
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._pool.close(self._stop_grace_s)

    async def __aenter__(self) -> LocalLambda:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _find(self, name: str) -> FunctionRuntime | None:
        return self._runtimes.get(name)

    def _spawn(self, invocation: Coroutine[Any, Any, Invocation]) -> None:
        task = asyncio.create_task(invocation)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Invocation]) -> None:
        self._background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("a background Event invocation failed", exc_info=exc)
