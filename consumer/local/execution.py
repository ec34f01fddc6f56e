"""How one invocation of one function runs: fault knobs, latency, timeout, the handler call.

Nothing here knows HTTP: an invocation ends as an `Invocation` (outcome + response), which the
API layer turns into what real Lambda would answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import logging
import os
import random
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from consumer.local.functions import (
    LATEST,
    EventPredicate,
    FunctionSpec,
    Handler,
    LambdaContext,
    function_arn,
)
from consumer.local.invocations import Arrival, Invocation, InvocationRecord, Outcome
from consumer.settings.lambda_limits import LAMBDA_RESPONSE_MAX_BYTES

log = logging.getLogger(__name__)

# Frames of the machinery that called the handler, left out of a function error's stackTrace
# as the real runtime leaves out its own.
_CALLER_FILES = (
    os.path.dirname(asyncio.__file__),
    os.path.dirname(concurrent.futures.__file__),
    __file__,
)


class SimulatedFunctionError(Exception):
    """What a function fails with when the fail_when or failure_rate knob picks an invocation."""


class HandlerPool:
    """Runs handlers: sync ones on its own threads, coroutine ones as tasks on the loop.

    Its own pool, because the loop's default executor has min(32, CPUs + 4) threads (6 on a
    2-core machine) and would cap the concurrency under test. It tracks every running call so
    close() can wait for them. A sync handler that outlives its timeout keeps its thread until
    it returns (a thread cannot be killed); its result is dropped.
    """

    def __init__(self, threads: int = 64) -> None:
        if threads < 1:
            raise ValueError(f"handler_threads must be >= 1, got {threads}.")
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="local-lambda-handler")
        self._running: set[asyncio.Future[Any]] = set()

    def start(self, handler: Handler, event: Any, context: LambdaContext) -> asyncio.Future[Any]:
        call: asyncio.Future[Any]
        if _is_coroutine_function(handler):
            call = asyncio.ensure_future(handler(event, context))
        else:
            call = asyncio.get_running_loop().run_in_executor(
                self._executor, handler, event, context
            )
        self._running.add(call)
        call.add_done_callback(self._forget)
        return call

    def _forget(self, call: asyncio.Future[Any]) -> None:
        self._running.discard(call)
        if not call.cancelled():
            call.exception()  # mark retrieved: a timed-out call's error is nobody's to report

    async def close(self, grace_s: float) -> None:
        """Cancels coroutine handlers, waits up to grace_s for handler threads, frees the pool."""
        for call in self._running:
            if isinstance(call, asyncio.Task):
                call.cancel()
        pending: set[asyncio.Future[Any]] = set(self._running)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=grace_s)
        if pending:
            log.warning(
                "%d handler call(s) still running %.1f s after stop; their threads are left "
                "to finish on their own",
                len(pending),
                grace_s,
            )
        # Joining idle threads is immediate; joining a stuck one would hang stop().
        self._executor.shutdown(wait=not pending, cancel_futures=True)


class FunctionRuntime:
    """A registered function: its spec, its seeded draws, and how one invocation of it runs.

    One per registration: replacing a function starts fresh draws from the new spec's seed.
    """

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        pool: HandlerPool,
        record: InvocationRecord,
        region: str,
        account_id: str,
    ) -> None:
        self.spec = spec
        self._pool = pool
        self._record = record
        self._region = region
        self._account_id = account_id
        # One stream per knob: turning on latency must not change which invocations fail.
        self._service_error_draws = random.Random(f"{spec.seed}:service_error")
        self._failure_draws = random.Random(f"{spec.seed}:failure")
        self._latency_draws = random.Random(f"{spec.seed}:latency")

    def arn(self, qualifier: str | None = None) -> str:
        return function_arn(
            self.spec.name, qualifier, region=self._region, account_id=self._account_id
        )

    def resolves(self, qualifier: str | None) -> bool:
        return qualifier in (None, LATEST) or qualifier in self.spec.qualifiers

    async def invoke(self, event: Any, arrival: Arrival) -> Invocation:
        """Runs one invocation through the knobs and the handler, and lists it in the record."""
        spec = self.spec
        if _triggered(
            spec.service_error_when, spec.service_error_rate, event, self._service_error_draws
        ):
            refused = arrival.finish(
                Outcome.SERVICE_ERROR,
                event=event,
                response={
                    "Type": "Service",
                    "Message": "Lambda had an internal error (the service_error knob).",
                },
            )
            self._record.add(refused)
            return refused
        if not self._record.began(spec.name, limit=spec.concurrency_limit):
            refused = arrival.finish(
                Outcome.THROTTLED,
                event=event,
                response={
                    "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                    "Type": "User",
                    "message": "Rate Exceeded.",
                },
            )
            self._record.add(refused)
            return refused
        try:
            invocation = await self._run(event, arrival)
        except BaseException:  # the server is stopping, or a knob's predicate raised
            self._record.finished(arrival.finish(Outcome.ABORTED, event=event))
            raise
        self._record.finished(invocation)
        return invocation

    async def _run(self, event: Any, arrival: Arrival) -> Invocation:
        spec = self.spec
        deadline = arrival.started_at + spec.timeout_s  # the latency counts toward the timeout
        low, high = spec.latency_range_s
        latency_s = self._latency_draws.uniform(low, high) if high > 0 else 0.0
        if latency_s > 0:
            # On the loop, not in a handler thread: a thousand slow invocations cost no threads.
            await asyncio.sleep(min(latency_s, max(0.0, deadline - time.monotonic())))

        def finish(outcome: Outcome, response: Any) -> Invocation:
            return arrival.finish(outcome, event=event, response=response, latency_s=latency_s)

        if time.monotonic() >= deadline:
            return finish(Outcome.TIMEOUT, self._timed_out(arrival.request_id))
        if _triggered(spec.fail_when, spec.failure_rate, event, self._failure_draws):
            reason = "fail_when matched the event" if spec.fail_when else "failure_rate drew it"
            error = SimulatedFunctionError(f"simulated function error: {reason}")
            return finish(Outcome.FUNCTION_ERROR, _error_object(error, arrival.request_id))

        context = LambdaContext(
            function_name=spec.name,
            function_version=LATEST,
            invoked_function_arn=self.arn(arrival.qualifier),
            memory_limit_in_mb=str(spec.memory_mb),
            aws_request_id=arrival.request_id,
            deadline_monotonic=deadline,
        )
        call = self._pool.start(spec.handler, event, context)
        done, _ = await asyncio.wait({call}, timeout=max(0.0, deadline - time.monotonic()))
        if not done:
            call.cancel()  # stops a coroutine handler; a handler thread runs on, unobserved
            return finish(Outcome.TIMEOUT, self._timed_out(arrival.request_id))
        if (exc := call.exception()) is not None:
            return finish(Outcome.FUNCTION_ERROR, _error_object(exc, arrival.request_id))
        result = call.result()
        # Lambda's Python runtime answers with json.dumps of the return value, within a limit.
        try:
            size = len(json.dumps(result).encode())
        except (TypeError, ValueError) as marshal_error:
            return finish(
                Outcome.FUNCTION_ERROR,
                {
                    "errorMessage": f"Unable to marshal response: {marshal_error}",
                    "errorType": "Runtime.MarshalError",
                    "requestId": arrival.request_id,
                    "stackTrace": [],
                },
            )
        if size > LAMBDA_RESPONSE_MAX_BYTES:
            return finish(
                Outcome.FUNCTION_ERROR,
                {
                    "errorMessage": f"Response payload size ({size} bytes) exceeded maximum "
                    f"allowed payload size ({LAMBDA_RESPONSE_MAX_BYTES} bytes).",
                    "errorType": "Function.ResponseSizeTooLarge",
                },
            )
        return finish(Outcome.OK, result)

    def _timed_out(self, request_id: str) -> dict[str, str]:
        # Real Lambda: "2024-05-01T12:00:03.012Z <request id> Task timed out after 3.00 seconds".
        now = datetime.now(UTC)
        stamp = f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"
        return {
            "errorMessage": f"{stamp} {request_id} Task timed out after "
            f"{self.spec.timeout_s:.2f} seconds",
            "errorType": "Sandbox.Timedout",
        }


def _triggered(when: EventPredicate | None, rate: float, event: Any, draws: random.Random) -> bool:
    # Draw on every invocation that reaches the knob, so the stream does not depend on `when`.
    drawn = rate > 0 and draws.random() < rate
    return drawn or (when is not None and when(event))


def _error_object(exc: BaseException, request_id: str) -> dict[str, Any]:
    """A function error as Lambda's Python runtime reports an unhandled exception."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(_CALLER_FILES)
    ]
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def _is_coroutine_function(handler: Handler) -> bool:
    # Also an object whose __call__ is `async def`.
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - not a callable() check
    )
