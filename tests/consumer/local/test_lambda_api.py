"""The local Lambda through the real aioboto3 client: answers, errors and fault knobs."""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
from typing import Any

import pytest

from consumer.local.functions import FunctionSpec, LambdaContext
from consumer.local.invocations import InvocationType, Outcome
from consumer.local.server import LocalLambda
from consumer.settings.lambda_limits import (
    LAMBDA_EVENT_MAX_BYTES,
    LAMBDA_REQUEST_RESPONSE_MAX_BYTES,
)
from tests.support.lambda_fixtures import LambdaClientFactory

HOLD_S = 30  # upper bound on a held handler, so a failing test cannot leave a thread blocked


def echo(event: Any, context: LambdaContext) -> Any:
    return event


def held_until(release: threading.Event) -> Any:
    def handler(event: Any, context: LambdaContext) -> Any:
        release.wait(HOLD_S)
        return event

    return handler


async def payload_of(response: dict[str, Any]) -> Any:
    return json.loads(await response["Payload"].read())


def json_string_of_size(size: int) -> io.BytesIO:
    # A file object: aiohttp warns that sending megabytes of raw bytes may block its loop.
    return io.BytesIO(b'"' + b"x" * (size - 2) + b'"')


async def test_handler_result_comes_back_as_the_payload(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("double", lambda event, context: event["n"] * 2))
    async with lambda_client() as client:
        response = await client.invoke(FunctionName="double", Payload=b'{"n": 21}')
        assert await payload_of(response) == 42
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert local_lambda.record.events("double") == [{"n": 21}]


async def test_handler_returning_none_answers_null(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("nothing", lambda event, context: None))
    async with lambda_client() as client:
        response = await client.invoke(FunctionName="nothing", Payload=b"{}")
        assert await response["Payload"].read() == b"null"


async def test_coroutine_handler_is_awaited(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    async def handler(event: Any, context: LambdaContext) -> Any:
        await asyncio.sleep(0)
        return {"async": event}

    local_lambda.add_function(FunctionSpec("coro", handler))
    async with lambda_client() as client:
        response = await client.invoke(FunctionName="coro", Payload=b"7")
        assert await payload_of(response) == {"async": 7}


async def test_invoke_without_payload_gives_the_function_an_empty_object(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("echo", echo))
    async with lambda_client() as client:
        response = await client.invoke(FunctionName="echo")
        assert await payload_of(response) == {}


async def test_handler_gets_a_lambda_like_context(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    def describe(event: Any, context: LambdaContext) -> dict[str, Any]:
        return {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        }

    spec = FunctionSpec("ctx", describe, qualifiers=frozenset({"live"}), timeout_s=10)
    local_lambda.add_function(spec)
    async with lambda_client() as client:
        response = await client.invoke(FunctionName="ctx:live", Payload=b"{}")
        context = await payload_of(response)
    assert context["function_name"] == "ctx"
    assert context["function_version"] == "$LATEST"
    assert (
        context["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ctx:live"
    )
    assert context["memory_limit_in_mb"] == "128"
    assert context["aws_request_id"] == response["ResponseMetadata"]["RequestId"]
    assert context["log_group_name"] == "/aws/lambda/ctx"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", context["log_stream_name"])
    assert 0 < context["remaining_ms"] <= 10_000


async def test_handler_exception_comes_back_as_an_unhandled_function_error(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    def broken(event: Any, context: LambdaContext) -> Any:
        raise KeyError(f"no {event['want']}")

    local_lambda.add_function(FunctionSpec("broken", broken))
    async with lambda_client() as client:
        response = await client.invoke(FunctionName="broken", Payload=b'{"want": "cheese"}')
        error = await payload_of(response)
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "KeyError"
    assert error["errorMessage"] == "'no cheese'"  # str() of the exception, as Lambda's runtime
    assert error["requestId"] == response["ResponseMetadata"]["RequestId"]
    # Only the handler's own frames, not the server's.
    assert len(error["stackTrace"]) == 1
    assert "in broken" in error["stackTrace"][0]
    assert local_lambda.record.outcomes("broken") == [Outcome.FUNCTION_ERROR]


async def test_unserializable_result_is_a_marshal_error(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("setter", lambda event, context: {1, 2}))
    async with lambda_client() as client:
        response = await client.invoke(FunctionName="setter", Payload=b"{}")
        error = await payload_of(response)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.MarshalError"
    assert error["errorMessage"] == (
        "Unable to marshal response: Object of type set is not JSON serializable"
    )


async def test_unknown_function_raises_resource_not_found(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    async with lambda_client() as client:
        with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
            await client.invoke(FunctionName="missing", Payload=b"{}")
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:missing"
    )
    assert error["Type"] == "User"
    assert local_lambda.record.outcomes("missing") == [Outcome.NOT_FOUND]


@pytest.mark.parametrize(
    ("function_name", "qualifier", "recorded_qualifier"),
    [
        ("orders", None, None),
        ("orders:live", None, "live"),
        ("orders:$LATEST", None, "$LATEST"),
        ("orders", "live", "live"),
        ("arn:aws:lambda:us-east-1:123456789012:function:orders", None, None),
        ("arn:aws:lambda:us-east-1:123456789012:function:orders:live", None, "live"),
        ("arn:aws:lambda:us-east-1:123456789012:function:orders", "live", "live"),
        ("123456789012:function:orders", None, None),
        ("123456789012:function:orders:live", "live", "live"),
    ],
)
async def test_function_name_forms_resolve(
    local_lambda: LocalLambda,
    lambda_client: LambdaClientFactory,
    function_name: str,
    qualifier: str | None,
    recorded_qualifier: str | None,
) -> None:
    local_lambda.add_function(FunctionSpec("orders", echo, qualifiers=frozenset({"live"})))
    extra = {"Qualifier": qualifier} if qualifier else {}
    async with lambda_client() as client:
        response = await client.invoke(FunctionName=function_name, Payload=b'"hi"', **extra)
        assert await payload_of(response) == "hi"
    [invocation] = local_lambda.record.invocations("orders")
    assert invocation.qualifier == recorded_qualifier


async def test_unknown_qualifier_raises_resource_not_found(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("orders", echo, qualifiers=frozenset({"live"})))
    async with lambda_client() as client:
        with pytest.raises(client.exceptions.ResourceNotFoundException) as raised:
            await client.invoke(FunctionName="orders", Qualifier="staging", Payload=b"{}")
    assert raised.value.response["Error"]["Message"].endswith("function:orders:staging")


async def test_qualifier_in_name_and_parameter_must_agree(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("orders", echo, qualifiers=frozenset({"a", "b"})))
    async with lambda_client() as client:
        with pytest.raises(client.exceptions.InvalidParameterValueException):
            await client.invoke(FunctionName="orders:a", Qualifier="b", Payload=b"{}")


async def test_body_that_is_not_json_raises_invalid_request_content(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("echo", echo))
    async with lambda_client() as client:
        with pytest.raises(client.exceptions.InvalidRequestContentException) as raised:
            await client.invoke(FunctionName="echo", Payload=b"{not json")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["Error"]["Message"].startswith(
        "Could not parse request body into json"
    )
    assert local_lambda.record.events("echo") == []


async def test_payload_over_the_sync_limit_raises_request_too_large(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("echo", lambda event, context: len(event)))
    async with lambda_client() as client:
        at_limit = await client.invoke(
            FunctionName="echo", Payload=json_string_of_size(LAMBDA_REQUEST_RESPONSE_MAX_BYTES)
        )
        assert await payload_of(at_limit) == LAMBDA_REQUEST_RESPONSE_MAX_BYTES - 2
        with pytest.raises(client.exceptions.RequestTooLargeException) as raised:
            await client.invoke(
                FunctionName="echo",
                Payload=json_string_of_size(LAMBDA_REQUEST_RESPONSE_MAX_BYTES + 1),
            )
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert raised.value.response["Error"]["Message"] == (
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    )
    assert local_lambda.record.outcomes("echo") == [Outcome.OK, Outcome.TOO_LARGE]


async def test_event_payload_over_the_async_limit_raises_request_too_large(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("echo", lambda event, context: len(event)))
    async with lambda_client() as client:
        accepted = await client.invoke(
            FunctionName="echo",
            InvocationType="Event",
            Payload=json_string_of_size(LAMBDA_EVENT_MAX_BYTES),
        )
        with pytest.raises(client.exceptions.RequestTooLargeException) as raised:
            await client.invoke(
                FunctionName="echo",
                InvocationType="Event",
                Payload=json_string_of_size(LAMBDA_EVENT_MAX_BYTES + 1),
            )
        synchronously = await client.invoke(
            FunctionName="echo", Payload=json_string_of_size(LAMBDA_EVENT_MAX_BYTES + 1)
        )
    assert accepted["StatusCode"] == 202
    assert raised.value.response["Error"]["Message"] == (
        "Request must be smaller than 1048576 bytes for the InvokeFunction operation"
    )
    assert synchronously["StatusCode"] == 200


async def test_event_invocation_is_accepted_and_runs_in_the_background(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    release = threading.Event()
    local_lambda.add_function(FunctionSpec("later", held_until(release)))
    try:
        async with lambda_client() as client:
            response = await client.invoke(
                FunctionName="later", InvocationType="Event", Payload=b'{"n": 1}'
            )
        # Answered while the handler is still held.
        assert response["StatusCode"] == 202
        assert local_lambda.record.in_flight("later") == 1
    finally:
        release.set()
    await local_lambda.record.wait_until_async(lambda r: r.events("later") == [{"n": 1}], 10)
    [invocation] = local_lambda.record.invocations("later")
    assert invocation.invocation_type == InvocationType.EVENT
    assert invocation.outcome == Outcome.OK
    assert invocation.response == {"n": 1}


async def test_dry_run_answers_204_without_running_the_handler(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    calls: list[Any] = []
    local_lambda.add_function(FunctionSpec("guarded", lambda event, context: calls.append(event)))
    async with lambda_client() as client:
        response = await client.invoke(FunctionName="guarded", InvocationType="DryRun")
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            await client.invoke(FunctionName="absent", InvocationType="DryRun")
    assert response["StatusCode"] == 204
    assert calls == []
    assert local_lambda.record.outcomes("guarded") == [Outcome.DRY_RUN]
    assert local_lambda.record.events("guarded") == []


async def test_invocations_beyond_the_concurrency_limit_are_throttled(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    release = threading.Event()
    local_lambda.add_function(FunctionSpec("narrow", held_until(release), concurrency_limit=2))
    async with lambda_client() as client:
        running = [
            asyncio.create_task(client.invoke(FunctionName="narrow", Payload=str(n).encode()))
            for n in range(2)
        ]
        try:
            await local_lambda.record.wait_until_async(lambda r: r.in_flight("narrow") == 2, 10)
            with pytest.raises(client.exceptions.TooManyRequestsException) as raised:
                await client.invoke(FunctionName="narrow", Payload=b"2")
        finally:
            release.set()
        answers = [await payload_of(response) for response in await asyncio.gather(*running)]
        after_release = await client.invoke(FunctionName="narrow", Payload=b"3")
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert error["Type"] == "User"
    assert sorted(answers) == [0, 1]
    assert after_release["StatusCode"] == 200
    assert local_lambda.record.peak_in_flight("narrow") == 2
    assert sorted(local_lambda.record.outcomes("narrow")) == sorted(
        [Outcome.OK, Outcome.OK, Outcome.THROTTLED, Outcome.OK]
    )


async def test_sync_handlers_run_concurrently_beyond_the_default_executor_size(
    lambda_client: LambdaClientFactory, local_lambda: LocalLambda
) -> None:
    concurrent_calls = 20  # the loop's default executor would run only 6 at once here
    together = threading.Barrier(concurrent_calls, timeout=HOLD_S)

    def meet(event: Any, context: LambdaContext) -> Any:
        together.wait()  # passes only once all of them are inside a handler at the same time
        return event

    local_lambda.add_function(FunctionSpec("crowd", meet))
    async with lambda_client(max_pool_connections=concurrent_calls) as client:
        responses = await asyncio.gather(
            *(client.invoke(FunctionName="crowd", Payload=str(n).encode()) for n in range(20))
        )
    assert [r.get("FunctionError") for r in responses] == [None] * concurrent_calls
    assert local_lambda.record.peak_in_flight("crowd") == concurrent_calls


async def test_service_error_knob_answers_500_service_exception(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    spec = FunctionSpec("shaky", echo, service_error_when=lambda event: event.get("fail", False))
    local_lambda.add_function(spec)
    async with lambda_client() as client:
        with pytest.raises(client.exceptions.ServiceException) as raised:
            await client.invoke(FunctionName="shaky", Payload=b'{"fail": true}')
        fine = await client.invoke(FunctionName="shaky", Payload=b'{"fail": false}')
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert raised.value.response["Type"] == "Service"
    assert fine["StatusCode"] == 200
    # Lambda failed before the function ran.
    assert local_lambda.record.events("shaky") == [{"fail": False}]
    assert local_lambda.record.outcomes("shaky") == [Outcome.SERVICE_ERROR, Outcome.OK]


async def test_service_error_rate_of_one_fails_every_invocation(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("down", echo, service_error_rate=1.0))
    async with lambda_client() as client:
        for _ in range(3):
            with pytest.raises(client.exceptions.ServiceException):
                await client.invoke(FunctionName="down", Payload=b"{}")


async def test_timeout_knob_answers_sandbox_timedout(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    release = threading.Event()
    local_lambda.add_function(FunctionSpec("stuck", held_until(release), timeout_s=0.2))
    try:
        async with lambda_client() as client:
            response = await client.invoke(FunctionName="stuck", Payload=b"{}")
            error = await payload_of(response)
    finally:
        release.set()
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {request_id} "
        r"Task timed out after 0\.20 seconds",
        error["errorMessage"],
    )
    [invocation] = local_lambda.record.invocations("stuck")
    assert invocation.outcome == Outcome.TIMEOUT
    assert invocation.duration_s >= 0.2


async def test_timed_out_coroutine_handler_is_cancelled(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    never = asyncio.Event()
    cancelled = asyncio.Event()

    async def waits_forever(event: Any, context: LambdaContext) -> Any:
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    local_lambda.add_function(FunctionSpec("forever", waits_forever, timeout_s=0.1))
    async with lambda_client() as client:
        response = await client.invoke(FunctionName="forever", Payload=b"{}")
        error = await payload_of(response)
    assert error["errorType"] == "Sandbox.Timedout"
    await asyncio.wait_for(cancelled.wait(), 10)


async def test_latency_longer_than_the_timeout_times_out_without_running_the_handler(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    calls: list[Any] = []
    spec = FunctionSpec("late", lambda e, c: calls.append(e), latency_s=5.0, timeout_s=0.1)
    local_lambda.add_function(spec)
    async with lambda_client() as client:
        response = await client.invoke(FunctionName="late", Payload=b"{}")
        error = await payload_of(response)
    assert error["errorType"] == "Sandbox.Timedout"
    assert calls == []


async def test_latency_range_is_respected(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("slow", echo, latency_s=(0.05, 0.15), seed=7))
    async with lambda_client() as client:
        await asyncio.gather(
            *(client.invoke(FunctionName="slow", Payload=str(n).encode()) for n in range(8))
        )
    invocations = local_lambda.record.invocations("slow")
    assert len(invocations) == 8
    assert all(0.05 <= i.latency_s <= 0.15 for i in invocations)
    assert all(i.duration_s >= i.latency_s for i in invocations)
    assert len({i.latency_s for i in invocations}) == 8  # drawn, not fixed


async def test_fixed_latency_delays_every_invocation(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("steady", echo, latency_s=0.05))
    async with lambda_client() as client:
        for _ in range(2):
            await client.invoke(FunctionName="steady", Payload=b"{}")
    invocations = local_lambda.record.invocations("steady")
    assert [i.latency_s for i in invocations] == [0.05, 0.05]
    assert all(i.duration_s >= 0.05 for i in invocations)


async def test_fail_when_fails_the_matching_events(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("picky", echo, fail_when=lambda e: e == "poison"))
    async with lambda_client() as client:
        bad = await client.invoke(FunctionName="picky", Payload=b'"poison"')
        error = await payload_of(bad)
        good = await client.invoke(FunctionName="picky", Payload=b'"food"')
        assert await payload_of(good) == "food"
    assert bad["FunctionError"] == "Unhandled"
    assert error["errorType"] == "SimulatedFunctionError"
    assert "fail_when" in error["errorMessage"]
    assert local_lambda.record.outcomes("picky") == [Outcome.FUNCTION_ERROR, Outcome.OK]


async def test_failure_rate_is_reproducible_with_its_seed(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    async def failures(seed: int) -> list[bool]:
        # Registering again starts the draws afresh from the seed.
        local_lambda.add_function(FunctionSpec("flaky", echo, failure_rate=0.5, seed=seed))
        async with lambda_client() as client:
            return [
                "FunctionError" in await client.invoke(FunctionName="flaky", Payload=b"{}")
                for _ in range(20)
            ]

    first = await failures(seed=3)
    again = await failures(seed=3)
    other_seed = await failures(seed=4)
    assert first == again
    assert True in first
    assert False in first
    assert other_seed != first


async def test_replacing_a_function_swaps_its_handler(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    def broken(event: Any, context: LambdaContext) -> Any:
        raise RuntimeError("bug")

    local_lambda.add_function(FunctionSpec("fixme", broken))
    async with lambda_client() as client:
        before = await client.invoke(FunctionName="fixme", Payload=b"1")
        local_lambda.add_function(FunctionSpec("fixme", echo))
        after = await client.invoke(FunctionName="fixme", Payload=b"1")
        assert await payload_of(after) == 1
    assert before["FunctionError"] == "Unhandled"
    assert "FunctionError" not in after


async def test_record_lists_events_in_order_of_arrival(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    release_first = threading.Event()

    def first_waits(event: Any, context: LambdaContext) -> Any:
        if event == 0:
            release_first.wait(HOLD_S)
        return event

    local_lambda.add_function(FunctionSpec("ordered", first_waits))
    async with lambda_client() as client:
        first = asyncio.create_task(client.invoke(FunctionName="ordered", Payload=b"0"))
        try:
            await local_lambda.record.wait_until_async(lambda r: r.in_flight("ordered") == 1, 10)
            await client.invoke(FunctionName="ordered", Payload=b"1")  # completes first
        finally:
            release_first.set()
        await first
    assert local_lambda.record.events("ordered") == [0, 1]


async def test_the_function_configuration_gives_its_timeout_in_whole_seconds(
    local_lambda: LocalLambda, lambda_client: LambdaClientFactory
) -> None:
    local_lambda.add_function(FunctionSpec("slow", echo, timeout_s=2.5, qualifiers={"live"}))
    async with lambda_client() as client:
        configuration = await client.get_function_configuration(FunctionName="slow")
        aliased = await client.get_function_configuration(FunctionName="slow", Qualifier="live")
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            await client.get_function_configuration(FunctionName="absent")
    assert (configuration["FunctionName"], configuration["Timeout"]) == ("slow", 3)
    assert aliased["FunctionArn"].endswith(":function:slow:live")
