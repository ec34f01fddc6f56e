"""AWS SDK clients, with one rule for their region and one clear line when there is none."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import aioboto3
from botocore.exceptions import NoRegionError

from consumer.errors import ConfigurationError
from consumer.settings.model import BridgeSettings

_NO_REGION = (
    "AWS_REGION: no AWS region is set, and the AWS SDK found none (AWS_DEFAULT_REGION, the "
    "profile's region). Set AWS_REGION to the function's region (ECS tasks have it), or give "
    "LAMBDA_FUNCTION_NAME as the function's ARN."
)


def sdk_region(settings: BridgeSettings) -> str | None:
    """AWS_REGION; else the region in LAMBDA_FUNCTION_NAME when it is a full ARN
    (arn:<partition>:lambda:<region>:<account>:function:<name>); else None, the SDK's own."""
    if settings.aws_region:
        return settings.aws_region
    parts = settings.lambda_function_name.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "lambda" and parts[3]:
        return parts[3]
    return None


async def open_client(
    resources: AsyncExitStack,
    service: str,
    settings: BridgeSettings,
    session: aioboto3.Session | None = None,
    **options: Any,
) -> Any:
    """An aioboto3 client of `service` in the bridge's region, closed with `resources`."""
    try:
        return await resources.enter_async_context(
            (session or aioboto3.Session()).client(
                service, region_name=sdk_region(settings), **options
            )
        )
    except NoRegionError:
        raise ConfigurationError(_NO_REGION) from None
