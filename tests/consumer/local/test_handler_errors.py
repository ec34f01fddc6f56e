"""Each distinct error the handler raises is said once, with its type and first line."""

from __future__ import annotations

from typing import Any

from consumer.local.handler_errors import HandlerErrors, describe
from consumer.local.invocations import Arrival, Invocation, Outcome


def invocation(outcome: Outcome, response: Any, function_name: str = "f") -> Invocation:
    arrival = Arrival("id", function_name, None, "RequestResponse", 0.0)
    return arrival.finish(outcome, event={}, response=response)


def error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message, "stackTrace": ["  File ..."]}


def test_each_distinct_error_is_said_once_with_its_first_line() -> None:
    said: list[str] = []
    errors = HandlerErrors("f", said.append)
    for answer in [
        invocation(Outcome.FUNCTION_ERROR, error("KeyError", "'records'")),
        invocation(Outcome.FUNCTION_ERROR, error("KeyError", "'records'")),
        invocation(Outcome.OK, {"ok": True}),
        invocation(Outcome.FUNCTION_ERROR, error("ValueError", "bad value\nsecond line")),
        invocation(Outcome.TIMEOUT, error("Sandbox.Timedout", "Task timed out after 3.00 s")),
        invocation(Outcome.FUNCTION_ERROR, error("KeyError", "'other'"), function_name="g"),
    ]:
        errors.observe(answer)
    assert said == [
        "handler   raised KeyError: 'records'",
        "handler   raised ValueError: bad value",
        "handler   raised Sandbox.Timedout: Task timed out after 3.00 s",
    ]
    assert errors.distinct == 3


def test_an_odd_error_object_is_still_named() -> None:
    assert describe("not an object") == ("Unknown", "")
    assert describe({"errorMessage": ""}) == ("Unknown", "")
    long_type, long_message = describe(error("E", "x" * 500))
    assert long_type == "E"
    assert len(long_message) == 200
    assert long_message.endswith("…")
