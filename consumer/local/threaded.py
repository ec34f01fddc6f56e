"""ThreadedLocalLambda: a LocalLambda on its own event loop in a background thread.

For callers without an event loop (sync code, boto3) and for tests whose loop must not be the
server's (a test blocking its own loop would otherwise block the server too).
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from consumer.local.functions import FunctionSpec
from consumer.local.invocations import InvocationRecord
from consumer.local.server import LocalLambda


class ThreadedLocalLambda:
    """Starts on enter (or start()), stops on exit (or stop()); the thread ends with it.

    Invariant: between start() and stop() the server thread runs a loop serving `server`;
    after stop() returns, that thread has ended.

    Example::

        with ThreadedLocalLambda(LocalLambda([FunctionSpec("echo", echo)])) as local:
            boto3.client("lambda", endpoint_url=local.url, ...).invoke(FunctionName="echo")
    """

    def __init__(self, server: LocalLambda | None = None, *, start_timeout_s: float = 30.0) -> None:
        self.server = server if server is not None else LocalLambda()
        self._start_timeout_s = start_timeout_s
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def record(self) -> InvocationRecord:
        return self.server.record

    def add_function(self, spec: FunctionSpec) -> None:
        self.server.add_function(spec)

    def start(self) -> str:
        if self._thread is not None:
            raise RuntimeError("ThreadedLocalLambda runs once: create a new one to start again.")
        self._thread = threading.Thread(target=self._run, name="local-lambda-server", daemon=True)
        self._thread.start()
        if not self._started.wait(self._start_timeout_s):
            raise TimeoutError(f"the local Lambda did not start within {self._start_timeout_s} s")
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self.url

    def stop(self) -> None:
        if self._thread is None or self._loop is None or self._stopping is None:
            return
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> ThreadedLocalLambda:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # handed to the caller's thread by start() or stop()
            self._error = exc
        finally:
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            await self.server.start()
            self._started.set()
            await self._stopping.wait()
        finally:
            await self.server.stop()
