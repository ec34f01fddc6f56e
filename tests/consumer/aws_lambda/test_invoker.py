"""How Lambda's answers are classified and read, through the real client and local Lambda."""

from __future__ import annotations

import pytest
from aiohttp import web

from consumer.aws_lambda.invoker import (
    USER_AGENT,
    LambdaInvoker,
    Outcome,
    parse_batch_item_failures,
)
from consumer.local import FunctionSpec, LocalLambda
from consumer.local.lambda_api import INVOKE_ROUTE
from consumer.settings.model import load_settings


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"ok": true}', None),
        (b"null", None),
        (b'{"batchItemFailures": []}', frozenset()),
        (
            b'{"batchItemFailures": [{"itemIdentifier": "7"}, {"itemIdentifier": 9}]}',
            frozenset({"7", "9"}),
        ),
        (b'{"batchItemFailures": [{"itemIdentifier": ""}]}', frozenset({"*"})),
        (b'{"batchItemFailures": [{"id": "7"}]}', frozenset({"*"})),
        (b'{"batchItemFailures": "7"}', frozenset({"*"})),
        (b'"batchItemFailures"', None),
    ],
)
def test_partial_batch_responses_are_read_like_lambda_reads_them(
    body: bytes, expected: frozenset[str] | None
) -> None:
    assert parse_batch_item_failures(body) == expected


def boom(event: object, context: object) -> None:
    raise KeyError("variant_id")


async def invoke_once(local_lambda: LocalLambda, spec: FunctionSpec, **env: str) -> Outcome:
    local_lambda.add_function(spec)
    settings = load_settings(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
            "KAFKA_TOPIC": "t",
            "KAFKA_GROUP_ID": "g",
            "LAMBDA_FUNCTION_NAME": spec.name,
            "LAMBDA_ENDPOINT_URL": local_lambda.url,
            "AWS_REGION": "us-east-1",
            **env,
        }
    )
    async with LambdaInvoker(settings) as invoker:
        result = await invoker.invoke(b'{"n": 1}')
    return result.outcome


@pytest.fixture(autouse=True)
def aws_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")


async def test_a_returned_value_is_delivered(local_lambda: LocalLambda) -> None:
    spec = FunctionSpec("ok", lambda event, context: {"seen": event})
    assert await invoke_once(local_lambda, spec) is Outcome.DELIVERED


async def test_an_exception_is_a_function_error(local_lambda: LocalLambda) -> None:
    assert await invoke_once(local_lambda, FunctionSpec("boom", boom)) is Outcome.FUNCTION_ERROR


async def test_a_5xx_is_retryable(local_lambda: LocalLambda) -> None:
    spec = FunctionSpec("flaky", lambda e, c: None, service_error_rate=1.0)
    assert await invoke_once(local_lambda, spec) is Outcome.RETRYABLE


async def test_an_unreachable_endpoint_is_retryable(local_lambda: LocalLambda) -> None:
    spec = FunctionSpec("ok", lambda e, c: None)
    outcome = await invoke_once(
        local_lambda, spec, LAMBDA_ENDPOINT_URL="http://127.0.0.1:9", AWS_REGION="us-east-1"
    )
    assert outcome is Outcome.RETRYABLE


async def test_an_unknown_function_is_fatal(local_lambda: LocalLambda) -> None:
    spec = FunctionSpec("ok", lambda e, c: None)
    outcome = await invoke_once(local_lambda, spec, LAMBDA_FUNCTION_NAME="missing")
    assert outcome is Outcome.FATAL


async def test_event_invocations_are_delivered_when_accepted(local_lambda: LocalLambda) -> None:
    spec = FunctionSpec("later", lambda e, c: None)
    outcome = await invoke_once(local_lambda, spec, LAMBDA_INVOCATION_TYPE="Event")
    assert outcome is Outcome.DELIVERED


async def test_invocations_name_the_bridge_in_a_fixed_user_agent() -> None:
    user_agents: list[str] = []

    async def invoke(request: web.Request) -> web.Response:
        user_agents.append(request.headers["User-Agent"])
        return web.json_response(None)

    app = web.Application()
    app.router.add_post(INVOKE_ROUTE, invoke)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        settings = load_settings(
            {
                "KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
                "KAFKA_TOPIC": "t",
                "KAFKA_GROUP_ID": "g",
                "LAMBDA_FUNCTION_NAME": "f",
                "LAMBDA_ENDPOINT_URL": f"http://{host}:{port}",
                "AWS_REGION": "us-east-1",
            }
        )
        async with LambdaInvoker(settings) as invoker:
            for _ in range(2):
                assert (await invoker.invoke(b"{}")).outcome is Outcome.DELIVERED
    finally:
        await runner.cleanup()
    assert len(user_agents) == 2
    assert user_agents[0] == user_agents[1]
    assert user_agents[0].startswith(f"{USER_AGENT} "), user_agents[0]


async def test_the_function_s_timeout_is_read_or_the_reason_it_is_not_is_given(
    local_lambda: LocalLambda,
) -> None:
    local_lambda.add_function(FunctionSpec("slow", lambda event, context: None, timeout_s=12))
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
        "KAFKA_TOPIC": "t",
        "KAFKA_GROUP_ID": "g",
        "LAMBDA_ENDPOINT_URL": local_lambda.url,
        "AWS_REGION": "us-east-1",
    }
    found = load_settings({**common, "LAMBDA_FUNCTION_NAME": "slow"})
    absent = load_settings({**common, "LAMBDA_FUNCTION_NAME": "absent"})
    async with LambdaInvoker(found) as invoker:
        assert await invoker.function_timeout_s() == (12.0, None)
    async with LambdaInvoker(absent) as invoker:
        timeout_s, why_not = await invoker.function_timeout_s()
    assert timeout_s is None
    assert why_not is not None
    assert why_not.startswith("ResourceNotFoundException: Function not found")
