"""Lambda's Invoke REST API over aiohttp: POST /2015-03-31/functions/{FunctionName}/invocations,
and GetFunctionConfiguration (GET …/{FunctionName}/configuration) for the function's timeout.

Answers are shaped as real Lambda's: an error carries its type in the x-amzn-ErrorType header
and a JSON body with the members of its shape in botocore's lambda model (`Type`, `message` or
`Message`, `Reason`), so the real AWS clients raise their modeled exceptions
(client.exceptions.ResourceNotFoundException, TooManyRequestsException, ...). A function error
is not an API error: HTTP 200 with X-Amz-Function-Error and the error object as payload.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from consumer.local.execution import FunctionRuntime
from consumer.local.functions import LATEST, function_arn
from consumer.local.invocations import (
    Arrival,
    Invocation,
    InvocationRecord,
    InvocationType,
    Outcome,
)
from consumer.settings.lambda_limits import (
    LAMBDA_EVENT_MAX_BYTES,
    LAMBDA_REQUEST_RESPONSE_MAX_BYTES,
)

INVOKE_ROUTE = "/2015-03-31/functions/{function_name}/invocations"
CONFIGURATION_ROUTE = "/2015-03-31/functions/{function_name}/configuration"

# The FunctionName pattern of the Invoke API reference, with its parts named: a name, a
# partial ARN (123456789012:function:name) or a full ARN, each with an optional :qualifier.
_FUNCTION_NAME = re.compile(
    r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d:)?"
    r"(?:\d{12}:)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9_.-]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?"
)

_READ_CHUNK_BYTES = 64 * 1024

# Finds the runtime of a function name, None when there is no such function.
Lookup = Callable[[str], FunctionRuntime | None]
# Runs an Event invocation in the background, owned (and cancelled on stop) by the server.
Spawn = Callable[[Coroutine[Any, Any, Invocation]], None]


class LambdaApi:
    """The HTTP surface; the server owns the functions, the record and background work."""

    def __init__(
        self,
        *,
        lookup: Lookup,
        record: InvocationRecord,
        spawn: Spawn,
        region: str,
        account_id: str,
    ) -> None:
        self._lookup = lookup
        self._record = record
        self._spawn = spawn
        self._region = region
        self._account_id = account_id

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_post(INVOKE_ROUTE, self._invoke)
        app.router.add_get(CONFIGURATION_ROUTE, self._configuration)
        return app

    async def _configuration(self, request: web.Request) -> web.Response:
        """The members of FunctionConfiguration the bridge reads; Timeout in whole seconds,
        as Lambda has it (a fraction of a second, which only tests set, is rounded up)."""
        raw_name = request.match_info["function_name"]
        parsed = _FUNCTION_NAME.fullmatch(raw_name)
        name = parsed["name"] if parsed else raw_name
        qualifier = (parsed["qualifier"] if parsed else None) or request.query.get("Qualifier")
        runtime = self._lookup(name)
        arn = function_arn(name, qualifier, region=self._region, account_id=self._account_id)
        if runtime is None or not runtime.resolves(qualifier):
            return _error_response(
                404,
                "ResourceNotFoundException",
                {"Type": "User", "Message": f"Function not found: {arn}"},
                str(uuid.uuid4()),
            )
        configuration = {
            "FunctionName": name,
            "FunctionArn": arn,
            "Timeout": math.ceil(runtime.spec.timeout_s),
            "Version": qualifier or LATEST,
        }
        return web.json_response(configuration, headers={"x-amzn-RequestId": str(uuid.uuid4())})

    async def _invoke(self, request: web.Request) -> web.Response:
        invocation_type = request.headers.get(
            "X-Amz-Invocation-Type", InvocationType.REQUEST_RESPONSE
        )
        limit = (
            LAMBDA_EVENT_MAX_BYTES
            if invocation_type == InvocationType.EVENT
            else LAMBDA_REQUEST_RESPONSE_MAX_BYTES
        )
        body = await _read_body(request, limit)
        raw_name = request.match_info["function_name"]
        parsed = _FUNCTION_NAME.fullmatch(raw_name)
        name_qualifier = parsed["qualifier"] if parsed else None
        query_qualifier = request.query.get("Qualifier")
        arrival = Arrival(
            request_id=str(uuid.uuid4()),
            function_name=parsed["name"] if parsed else raw_name,
            qualifier=name_qualifier or query_qualifier,
            invocation_type=invocation_type,
            started_at=time.monotonic(),
        )

        def refuse(outcome: Outcome, status: int, error_type: str, **error: str) -> web.Response:
            self._record.add(arrival.finish(outcome, response=error))
            return _error_response(status, error_type, error, arrival.request_id)

        if invocation_type not in tuple(InvocationType):
            return refuse(
                Outcome.INVALID_REQUEST,
                400,
                "InvalidParameterValueException",
                Type="User",
                message=f"1 validation error detected: Value '{invocation_type}' at "
                "'invocationType' failed to satisfy constraint: Member must satisfy enum value "
                f"set: [{', '.join(InvocationType)}]",
            )
        if parsed is None:
            return refuse(
                Outcome.INVALID_REQUEST,
                400,
                "ValidationException",
                message=f"1 validation error detected: Value '{raw_name}' at 'functionName' "
                "failed to satisfy constraint: Member must satisfy regular expression pattern: "
                f"{_FUNCTION_NAME.pattern}",
            )
        if name_qualifier and query_qualifier and name_qualifier != query_qualifier:
            return refuse(
                Outcome.INVALID_REQUEST,
                400,
                "InvalidParameterValueException",
                Type="User",
                message="The derived qualifier from the function name does not match the "
                "specified qualifier.",
            )
        runtime = self._lookup(arrival.function_name)
        if runtime is None or not runtime.resolves(arrival.qualifier):
            arn = function_arn(
                arrival.function_name,
                arrival.qualifier,
                region=self._region,
                account_id=self._account_id,
            )
            return refuse(
                Outcome.NOT_FOUND,
                404,
                "ResourceNotFoundException",
                Type="User",
                Message=f"Function not found: {arn}",
            )
        if body is None:
            return refuse(
                Outcome.TOO_LARGE,
                413,
                "RequestTooLargeException",
                Type="User",
                message=f"Request must be smaller than {limit} bytes for the InvokeFunction "
                "operation",
            )
        try:
            # An invoke without a payload gives the function an empty object.
            event = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            return refuse(
                Outcome.INVALID_REQUEST,
                400,
                "InvalidRequestContentException",
                Type="User",
                message="Could not parse request body into json: Could not parse payload into "
                f"json: {exc}",
            )

        if invocation_type == InvocationType.DRY_RUN:
            self._record.add(arrival.finish(Outcome.DRY_RUN, event=event))
            return _response(204, arrival.request_id)
        if invocation_type == InvocationType.EVENT:
            # Accepted now; the knobs still apply when it runs, and the record shows the outcome
            # (unlike real Lambda, a throttled or failed Event invocation is not retried).
            self._spawn(runtime.invoke(event, arrival))
            return _response(202, arrival.request_id)
        return _answer(await runtime.invoke(event, arrival))


def _answer(invocation: Invocation) -> web.Response:
    request_id = invocation.request_id
    match invocation.outcome:
        case Outcome.OK:
            return _response(200, request_id, json.dumps(invocation.response))
        case Outcome.FUNCTION_ERROR | Outcome.TIMEOUT:
            # The Python runtime reports every raised exception as Unhandled.
            return _response(
                200, request_id, json.dumps(invocation.response), function_error="Unhandled"
            )
        case Outcome.THROTTLED:
            return _error_response(429, "TooManyRequestsException", invocation.response, request_id)
        case Outcome.SERVICE_ERROR:
            return _error_response(500, "ServiceException", invocation.response, request_id)
        case _:
            raise AssertionError(f"a run cannot end as {invocation.outcome}")


def _response(
    status: int, request_id: str, body: str | None = None, *, function_error: str | None = None
) -> web.Response:
    headers = {"x-amzn-RequestId": request_id}
    if status == 200:
        headers["X-Amz-Executed-Version"] = LATEST
    if function_error:
        headers["X-Amz-Function-Error"] = function_error
    content_type = "application/json" if body is not None else None
    return web.Response(status=status, text=body, content_type=content_type, headers=headers)


def _error_response(
    status: int, error_type: str, error: dict[str, str], request_id: str
) -> web.Response:
    # botocore's rest-json parser takes the error code from x-amzn-ErrorType, the message from
    # the body's message/Message, and the modeled members (Type, Reason) from the body.
    return web.json_response(
        error,
        status=status,
        headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": request_id},
    )


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is over `limit` (read to its end all the same, so the client
    gets the 413 instead of a reset connection)."""
    kept = bytearray()
    size = 0
    async for chunk in request.content.iter_chunked(_READ_CHUNK_BYTES):
        size += len(chunk)
        if size <= limit:
            kept += chunk
    return bytes(kept) if size <= limit else None
