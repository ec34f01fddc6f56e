"""A function the local Lambda serves: its handler, its Lambda settings, its fault knobs, and
the context object its handler receives."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
LATEST = "$LATEST"

# handler(event, context); a coroutine function is awaited on the server's loop, anything else
# runs on the server's handler threads.
Handler = Callable[[Any, "LambdaContext"], Any]
# A predicate over the decoded event (a fault knob's trigger).
EventPredicate = Callable[[Any], bool]

_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_QUALIFIER = re.compile(r"[a-zA-Z0-9_-]{1,128}")


class FunctionSpecError(ValueError):
    """A FunctionSpec setting is out of range; the message names the setting and what fits."""


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the local Lambda and the faults to inject into it.

    Invariants (checked here, so a bad knob fails at registration, not mid-test): the name is a
    valid Lambda function name; rates are in [0, 1]; latency is >= 0 and a range is (min, max)
    with min <= max; timeout_s > 0; concurrency_limit is None (unreserved) or >= 0.

    Knobs, in the order an invocation meets them:
    1. `service_error_when(event)` / `service_error_rate`: Lambda itself fails, HTTP 500
       ServiceException; the handler does not run.
    2. `concurrency_limit`: an invocation arriving while that many are in flight (latency
       included) is refused, HTTP 429 TooManyRequestsException.
    3. `latency_s`: seconds, or a (min, max) uniform range, waited on the server's loop before
       the handler runs (no thread is held); it counts toward `timeout_s`.
    4. `fail_when(event)` / `failure_rate`: the function fails with `SimulatedFunctionError`
       instead of running the handler (HTTP 200 + X-Amz-Function-Error: Unhandled).
    5. `timeout_s`: a handler not done by then is reported as Lambda's Sandbox.Timedout.

    Every random draw comes from a random.Random seeded with (`seed`, knob), so a run is
    reproducible and enabling one knob does not change the draws of another.

    Example::

        FunctionSpec("orders", handle, concurrency_limit=2, latency_s=(0.01, 0.05))
    """

    name: str
    handler: Handler
    _: KW_ONLY
    # Versions and aliases that resolve besides $LATEST, e.g. frozenset({"live", "3"}).
    qualifiers: frozenset[str] = frozenset()
    timeout_s: float = 3.0  # Lambda's default function timeout
    memory_mb: int = 128
    concurrency_limit: int | None = None
    latency_s: float | tuple[float, float] = 0.0
    fail_when: EventPredicate | None = None
    failure_rate: float = 0.0
    service_error_when: EventPredicate | None = None
    service_error_rate: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not _FUNCTION_NAME.fullmatch(self.name):
            raise FunctionSpecError(
                f"FunctionSpec.name {self.name!r} is not a Lambda function name: "
                "use 1-64 letters, digits, hyphens or underscores."
            )
        for qualifier in self.qualifiers:
            if not _QUALIFIER.fullmatch(qualifier):
                raise FunctionSpecError(
                    f"FunctionSpec.qualifiers has {qualifier!r}: a qualifier is an alias or a "
                    "version number (letters, digits, hyphens, underscores)."
                )
        if not callable(self.handler):
            raise FunctionSpecError(
                f"FunctionSpec.handler of {self.name!r} is a {type(self.handler).__name__}, "
                "not a function: pass a callable taking (event, context), or use load_handler()."
            )
        if not self.timeout_s > 0:
            raise FunctionSpecError(f"FunctionSpec.timeout_s must be > 0, got {self.timeout_s}.")
        if self.concurrency_limit is not None and self.concurrency_limit < 0:
            raise FunctionSpecError(
                "FunctionSpec.concurrency_limit must be None (unlimited) or >= 0, "
                f"got {self.concurrency_limit}."
            )
        low, high = self.latency_range_s
        if not 0 <= low <= high:
            raise FunctionSpecError(
                f"FunctionSpec.latency_s must be seconds >= 0 or (min, max) with 0 <= min <= max, "
                f"got {self.latency_s!r}."
            )
        for knob in ("failure_rate", "service_error_rate"):
            rate = getattr(self, knob)
            if not 0 <= rate <= 1:
                raise FunctionSpecError(f"FunctionSpec.{knob} must be in [0, 1], got {rate}.")

    @property
    def latency_range_s(self) -> tuple[float, float]:
        if isinstance(self.latency_s, tuple):
            return self.latency_s
        return (self.latency_s, self.latency_s)


def function_arn(
    name: str,
    qualifier: str | None = None,
    *,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> str:
    arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def _log_stream_name() -> str:
    # Lambda's shape: "2024/05/01/[$LATEST]<32 hex digits>".
    return f"{datetime.now(UTC):%Y/%m/%d}/[{LATEST}]{uuid.uuid4().hex}"


@dataclass(frozen=True)
class LambdaContext:
    """The context object a handler receives, with the attributes of the Python runtime's."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    # A str, as in the real Python runtime (it reads AWS_LAMBDA_FUNCTION_MEMORY_SIZE).
    memory_limit_in_mb: str
    aws_request_id: str
    deadline_monotonic: float  # time.monotonic() at which the function times out
    log_stream_name: str = field(default_factory=_log_stream_name)
    identity: None = None
    client_context: None = None

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_monotonic - time.monotonic()) * 1000))
