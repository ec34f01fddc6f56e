"""The Lambda settings: the function, its region and endpoint, how it is invoked. A group of
fields of `BridgeSettings` (model.py)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from consumer.settings.declarations import NonBlank, setting
from consumer.settings.lambda_limits import (
    LAMBDA_EVENT_MAX_BYTES,
    LAMBDA_REQUEST_RESPONSE_MAX_BYTES,
)


class InvocationType(StrEnum):
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"


class LambdaSettings(BaseModel):
    """The function the records go to."""

    lambda_function_name: NonBlank = setting(
        doc="Function name or ARN (with `:qualifier`).",
        stack="lambdaFunctionName",
        example="<function name or ARN>",
    )
    lambda_qualifier: str | None = setting(
        None, doc="Version or alias to invoke.", stack="lambdaQualifier"
    )
    aws_region: str | None = setting(
        None,
        doc="Region of the function (ECS sets it). Default: the SDK's, else the function ARN's.",
    )
    lambda_endpoint_url: str | None = setting(
        None, doc="Lambda API endpoint, for local runs and tests."
    )
    lambda_invocation_type: InvocationType = setting(
        InvocationType.REQUEST_RESPONSE,
        doc="`RequestResponse` (waits, retries errors) or `Event` (fire and forget).",
        stack="lambdaInvocationType",
    )
    lambda_read_timeout_seconds: float = setting(
        910.0,
        ge=1,
        le=1000,
        doc="Wait for a response; must exceed the function's own timeout (≤ 900 s).",
        stack="lambdaReadTimeoutSeconds",
    )

    @property
    def invocation_limit_bytes(self) -> int:
        if self.lambda_invocation_type is InvocationType.EVENT:
            return LAMBDA_EVENT_MAX_BYTES
        return LAMBDA_REQUEST_RESPONSE_MAX_BYTES
