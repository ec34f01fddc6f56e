"""Invokes the function and says what happened, in the classes the retry policy acts on.

One long-lived aioboto3 client serves every invocation; its connection pool is sized to
the in-flight total and botocore's own retries are off, because the bridge owns the
retry policy (backoff, adaptive concurrency, dead letters).
"""

from __future__ import annotations

import json
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from enum import Enum
from typing import Any

import aioboto3
import aiohttp
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from consumer.errors import LambdaStartupError
from consumer.settings import BridgeSettings, InvocationType

# Lambda error codes a retry can outlive; any other 4xx means the request itself is wrong.
_RETRYABLE_CODES = frozenset(
    {
        "ServiceException",
        "ResourceNotReadyException",
        "ResourceConflictException",
        "EC2ThrottledException",
        "EC2UnexpectedException",
        "ENILimitReachedException",
        "SubnetIPAddressLimitReachedException",
        "SnapStartNotReadyException",
        "SnapStartTimeoutException",
        "RecursiveInvocationException",
    }
)
_THROTTLE_CODES = frozenset({"TooManyRequestsException", "ThrottlingException"})
_MAX_ERROR_MESSAGE_CHARS = 500
# A fixed User-Agent (the SDK appends its own name): botocore otherwise rebuilds one from a
# dozen parts twice per request, a sixth of the CPU an invoke costs; and it names the bridge in
# CloudTrail.
USER_AGENT = "kafka-to-lambda"


class Outcome(Enum):
    DELIVERED = "delivered"  # the function returned; `failed_item_ids` may name some records
    FUNCTION_ERROR = "function_error"  # the function raised or timed out
    THROTTLED = "throttled"  # 429: back off and lower the concurrency
    RETRYABLE = "retryable"  # 5xx, network, read timeout: back off and retry
    FATAL = "fatal"  # missing function, access denied, invalid request: stop


@dataclass(frozen=True)
class InvokeResult:
    outcome: Outcome
    latency_s: float
    error_type: str | None = None
    error_message: str | None = None
    # Partial batch response: the itemIdentifiers the function reported failed; None = all ok.
    failed_item_ids: frozenset[str] | None = None


def parse_batch_item_failures(body: bytes) -> frozenset[str] | None:
    """`{"batchItemFailures": [{"itemIdentifier": "<offset>"}]}` → the identifiers.

    A body without the key means every record succeeded. A malformed entry means the
    function's answer cannot be trusted record by record: the whole batch is retried,
    which is what Lambda does for SQS and streams in that case (reported as "*").
    """
    if b"batchItemFailures" not in body:  # cheap test before parsing a large response
        return None
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict) or "batchItemFailures" not in answer:
        return None
    failures = answer["batchItemFailures"]
    if not isinstance(failures, list):
        return frozenset({"*"})
    ids = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str | int) or str(identifier).strip() == "":
            return frozenset({"*"})
        ids.add(str(identifier))
    return frozenset(ids)


def _function_error(body: bytes) -> tuple[str, str]:
    try:
        answer = json.loads(body)
        return (
            str(answer.get("errorType", "Unknown")),
            str(answer.get("errorMessage", ""))[:_MAX_ERROR_MESSAGE_CHARS],
        )
    except (ValueError, AttributeError):
        return "Unknown", body[:_MAX_ERROR_MESSAGE_CHARS].decode(errors="replace")


def classify_client_error(error: ClientError) -> Outcome:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _THROTTLE_CODES or status == 429:
        return Outcome.THROTTLED
    if code in _RETRYABLE_CODES or status >= 500:
        return Outcome.RETRYABLE
    return Outcome.FATAL


class LambdaInvoker:
    """Use as `async with LambdaInvoker(settings) as invoker: await invoker.invoke(payload)`."""

    def __init__(self, settings: BridgeSettings) -> None:
        self._settings = settings
        self._exit_stack = AsyncExitStack()
        self._client: Any = None
        self._target: dict[str, str] = {"FunctionName": settings.lambda_function_name}
        if settings.lambda_qualifier:
            self._target["Qualifier"] = settings.lambda_qualifier

    async def __aenter__(self) -> LambdaInvoker:
        config = AioConfig(
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=self._settings.max_in_flight_total,
            connect_timeout=10,
            read_timeout=self._settings.lambda_read_timeout_seconds,
            tcp_keepalive=True,
            user_agent=USER_AGENT,
        )
        session = aioboto3.Session()
        self._client = await self._exit_stack.enter_async_context(
            session.client(
                "lambda",
                region_name=self._settings.aws_region,
                endpoint_url=self._settings.lambda_endpoint_url,
                config=config,
            )
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._exit_stack.aclose()

    async def invoke(self, payload: bytes) -> InvokeResult:
        started = time.monotonic()
        invocation_type = self._settings.lambda_invocation_type
        try:
            response = await self._client.invoke(
                InvocationType=invocation_type.value, Payload=payload, **self._target
            )
            body: bytes = await response["Payload"].read()
        except ClientError as error:
            details = error.response.get("Error", {})
            return InvokeResult(
                classify_client_error(error),
                time.monotonic() - started,
                details.get("Code", "ClientError"),
                str(details.get("Message", ""))[:_MAX_ERROR_MESSAGE_CHARS],
            )
        except (TimeoutError, BotoCoreError, aiohttp.ClientError, OSError) as error:
            # Network trouble or a read timeout: the invocation may or may not have run.
            return InvokeResult(
                Outcome.RETRYABLE, time.monotonic() - started, type(error).__name__, str(error)
            )
        latency_s = time.monotonic() - started
        if response.get("FunctionError"):
            error_type, message = _function_error(body)
            return InvokeResult(Outcome.FUNCTION_ERROR, latency_s, error_type, message)
        if invocation_type is InvocationType.EVENT:
            return InvokeResult(Outcome.DELIVERED, latency_s)
        return InvokeResult(
            Outcome.DELIVERED, latency_s, failed_item_ids=parse_batch_item_failures(body)
        )

    async def check_invokable(self) -> None:
        """A DryRun invoke: proves the function exists and this identity may invoke it."""
        name = self._settings.lambda_function_name
        try:
            await self._client.invoke(InvocationType="DryRun", Payload=b"{}", **self._target)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", "")
            if code == "ResourceNotFoundException":
                raise LambdaStartupError(
                    f"LAMBDA_FUNCTION_NAME: function {name!r} was not found ({message}). Check "
                    "the name, LAMBDA_QUALIFIER and AWS_REGION."
                ) from None
            if code in ("AccessDeniedException", "AccessDenied") or "Access" in code:
                raise LambdaStartupError(
                    f"LAMBDA_FUNCTION_NAME: this identity may not invoke {name!r} ({message}). "
                    "Grant lambda:InvokeFunction on it to the task role."
                ) from None
            raise LambdaStartupError(
                f"LAMBDA_FUNCTION_NAME: a DryRun invoke of {name!r} failed: {code} {message}"
            ) from None
        except NoCredentialsError:
            raise LambdaStartupError(
                "no AWS credentials were found to invoke the function: on ECS the task role "
                "provides them; elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY."
            ) from None
        except (TimeoutError, BotoCoreError, aiohttp.ClientError, OSError) as error:
            where = self._settings.lambda_endpoint_url or "the Lambda API"
            raise LambdaStartupError(
                f"could not reach {where} to check {name!r}: {error}. Check LAMBDA_ENDPOINT_URL, "
                "AWS_REGION and the network."
            ) from None
