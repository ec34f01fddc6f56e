"""FunctionSpec refuses bad knobs at registration; LambdaContext counts down to the timeout."""

from __future__ import annotations

import time
from typing import Any

import pytest

from consumer.local.functions import FunctionSpec, FunctionSpecError, LambdaContext


def echo(event: Any, context: LambdaContext) -> Any:
    return event


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"name": "has space"}, "FunctionSpec.name"),
        ({"name": "x" * 65}, "FunctionSpec.name"),
        ({"handler": "module:function"}, "use load_handler"),
        ({"qualifiers": frozenset({"bad qualifier"})}, "FunctionSpec.qualifiers"),
        ({"timeout_s": 0}, "FunctionSpec.timeout_s"),
        ({"concurrency_limit": -1}, "FunctionSpec.concurrency_limit"),
        ({"latency_s": -0.1}, "FunctionSpec.latency_s"),
        ({"latency_s": (0.2, 0.1)}, "FunctionSpec.latency_s"),
        ({"failure_rate": 1.5}, "FunctionSpec.failure_rate"),
        ({"service_error_rate": -0.1}, "FunctionSpec.service_error_rate"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(settings: dict[str, Any], named: str) -> None:
    arguments: dict[str, Any] = {"name": "ok", "handler": echo, **settings}
    with pytest.raises(FunctionSpecError, match=named):
        FunctionSpec(**arguments)


def test_fixed_latency_is_a_range_of_one_value() -> None:
    assert FunctionSpec("f", echo, latency_s=0.5).latency_range_s == (0.5, 0.5)
    assert FunctionSpec("f", echo, latency_s=(0.1, 0.3)).latency_range_s == (0.1, 0.3)


def test_remaining_time_counts_down_to_the_deadline_and_stops_at_zero() -> None:
    def context(deadline: float) -> LambdaContext:
        return LambdaContext(
            function_name="f",
            function_version="$LATEST",
            invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
            memory_limit_in_mb="128",
            aws_request_id="r",
            deadline_monotonic=deadline,
        )

    assert 9_000 < context(time.monotonic() + 10).get_remaining_time_in_millis() <= 10_000
    assert context(time.monotonic() - 1).get_remaining_time_in_millis() == 0
