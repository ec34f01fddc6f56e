"""Invokes the function and says what happened, in the classes the retry policy acts on.

Each Invoke is one signed POST over a keep-alive connection of the bridge's own pool
(consumer/aws_lambda/http.py). botocore's client machinery around that POST (parameter
validation, serialization, event hooks, endpoint rules, response parsing) was more than half
of the bridge's CPU at 10-record batches (benchmark S1: 68 CPU-µs per record with it, 31
without), so the AWS SDK is kept for what is done once: the credential chain (whose refreshes
the invoke path awaits), the endpoint and region, and the DryRun check. There are no retries
here: the bridge owns the retry policy (backoff, adaptive concurrency, dead letters).
"""

from __future__ import annotations

import ipaddress
import os
import platform
import ssl
import time
import urllib.request
from contextlib import AsyncExitStack
from typing import Any

import aioboto3
import aiohttp
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.httpsession import get_cert_path

from consumer.aws_lambda.answers import (
    InvokeResult,
    Outcome,
    classify,
    function_error,
    parse_batch_item_failures,
    service_error,
)
from consumer.aws_lambda.aws_clients import open_client
from consumer.aws_lambda.http import LambdaHttp
from consumer.aws_lambda.signing import InvokeTarget, invoke_target
from consumer.errors import LambdaStartupError
from consumer.settings.aws_lambda import InvocationType
from consumer.settings.model import BridgeSettings

__all__ = ["USER_AGENT", "InvokeResult", "LambdaInvoker", "Outcome", "parse_batch_item_failures"]

# Names the bridge in CloudTrail; what runs it follows (the AWS SDK's name, for the DryRun).
USER_AGENT = "kafka-to-lambda"
_INVOKE_USER_AGENT = f"{USER_AGENT} Python/{platform.python_version()}"
_CONNECT_TIMEOUT_S = 10
# What AWS answers for credentials that are not (or no longer) good, whatever the function.
_REFUSED_CREDENTIALS = frozenset(
    {
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "InvalidClientTokenId",
        "ExpiredToken",
    }
)


class LambdaInvoker:
    """Use as `async with LambdaInvoker(settings) as invoker: await invoker.invoke(payload)`.

    Invariant once entered: `_request_start`, `_signer` and `_http` address the function,
    qualifier, host and region the botocore client `_client` would; `_credentials` is that
    client's own credential object, so a refresh serves both.
    """

    def __init__(self, settings: BridgeSettings) -> None:
        self._settings = settings
        self._exit_stack = AsyncExitStack()
        self._client: Any = None
        self._credentials: Any = None
        self._http: LambdaHttp | None = None
        self._target: dict[str, str] = {"FunctionName": settings.lambda_function_name}
        if settings.lambda_qualifier:
            self._target["Qualifier"] = settings.lambda_qualifier
        self._invocation_type = settings.lambda_invocation_type.value
        self._wants_answer = settings.lambda_invocation_type is not InvocationType.EVENT

    async def __aenter__(self) -> LambdaInvoker:
        try:
            await self._open()
        except BaseException:
            await self._exit_stack.aclose()
            raise
        return self

    async def _open(self) -> None:
        settings = self._settings
        config = AioConfig(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=_CONNECT_TIMEOUT_S,
            user_agent=USER_AGENT,
        )
        session = aioboto3.Session()
        self._client = await open_client(
            self._exit_stack,
            "lambda",
            settings,
            session,
            endpoint_url=settings.lambda_endpoint_url,
            config=config,
        )
        self._credentials = await session.get_credentials()  # the client's, cached by the session
        target = invoke_target(
            self._client.meta.endpoint_url,
            self._client.meta.region_name,
            settings.lambda_function_name,
            settings.lambda_qualifier,
        )
        _refuse_proxy(target)
        self._signer = target.signer
        self._request_start = (
            f"POST {target.request_target} HTTP/1.1\r\nHost: {target.host_header}\r\n"
            f"User-Agent: {_INVOKE_USER_AGENT}\r\n"
        )
        self._http = LambdaHttp(
            target.hostname,
            target.port,
            ssl_context=_ssl_context() if target.tls else None,
            connect_timeout_s=_CONNECT_TIMEOUT_S,
            read_timeout_s=settings.lambda_read_timeout_seconds,
            max_idle=settings.max_in_flight_total,
        )
        self._exit_stack.callback(self._http.close)

    async def __aexit__(self, *exc_info: object) -> None:
        await self._exit_stack.aclose()

    async def invoke(self, payload: bytes) -> InvokeResult:
        started = time.monotonic()
        assert self._http is not None, "use LambdaInvoker as an async context manager"
        try:
            if self._credentials is None:
                raise NoCredentialsError()
            credentials = await self._credentials.get_frozen_credentials()
            signed = self._signer.headers(credentials, self._invocation_type, payload)
            head = "".join([f"{name}: {value}\r\n" for name, value in signed.items()])
            answer = await self._http.post(
                f"{self._request_start}{head}Content-Length: {len(payload)}\r\n\r\n".encode(),
                payload,
            )
        except (TimeoutError, BotoCoreError, OSError) as error:
            # Network trouble or a read timeout: the invocation may or may not have run.
            return InvokeResult(
                Outcome.RETRYABLE,
                time.monotonic() - started,
                type(error).__name__,
                str(error) or "no answer in time",
            )
        latency_s = time.monotonic() - started
        status, headers, body = answer.status, answer.headers, answer.body
        if status >= 300:
            code, message = service_error(status, headers.get("x-amzn-errortype"), body)
            return InvokeResult(classify(code, status), latency_s, code, message)
        request_id = headers.get("x-amzn-requestid")
        if headers.get("x-amz-function-error"):
            error_type, message = function_error(body)
            return InvokeResult(
                Outcome.FUNCTION_ERROR,
                latency_s,
                error_type,
                message,
                body=body,
                request_id=request_id,
            )
        if not self._wants_answer:
            return InvokeResult(Outcome.DELIVERED, latency_s, request_id=request_id)
        return InvokeResult(
            Outcome.DELIVERED,
            latency_s,
            failed_item_ids=parse_batch_item_failures(body),
            body=body,
            request_id=request_id,
        )

    async def function_timeout_s(self) -> tuple[float | None, str | None]:
        """The function's own timeout (GetFunctionConfiguration), or None and why not."""
        try:
            configuration = await self._client.get_function_configuration(**self._target)
        except ClientError as error:
            found = error.response.get("Error", {})
            return None, f"{found.get('Code', '')}: {found.get('Message', '')}"
        except (TimeoutError, BotoCoreError, aiohttp.ClientError, OSError) as error:
            return None, f"{type(error).__name__}: {error}"
        return float(configuration["Timeout"]), None

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
            if code in _REFUSED_CREDENTIALS:
                raise LambdaStartupError(
                    f"the AWS credentials were refused ({code}: {message}): they are expired, "
                    "revoked or for another account. On ECS the task role provides them; "
                    "elsewhere check AWS_PROFILE or AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
                    "and AWS_SESSION_TOKEN."
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


def _refuse_proxy(target: InvokeTarget) -> None:
    """An HTTP proxy the AWS SDK would use for the endpoint (HTTPS_PROXY, HTTP_PROXY, unless
    NO_PROXY covers it) is refused, not gone around: the bridge connects directly."""
    if _is_loopback(target.hostname) or urllib.request.proxy_bypass(target.hostname):
        return
    scheme = "https" if target.tls else "http"
    if urllib.request.getproxies_environment().get(scheme):
        raise LambdaStartupError(
            f"{scheme.upper()}_PROXY is set, and the bridge does not invoke Lambda through a "
            f"proxy: reach {target.hostname} directly (a VPC endpoint for Lambda, or a NAT "
            f"gateway), and add it to NO_PROXY."
        )


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _ssl_context() -> ssl.SSLContext:
    """The AWS SDK's trust store: AWS_CA_BUNDLE, else certifi's bundle."""
    return ssl.create_default_context(cafile=get_cert_path(os.environ.get("AWS_CA_BUNDLE") or True))
