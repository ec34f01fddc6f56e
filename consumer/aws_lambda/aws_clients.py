"""AWS SDK clients, with one rule for their region and one clear line when there is none."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import NoRegionError

from consumer.errors import ConfigurationError
from consumer.settings.model import BridgeSettings

_NO_REGION = (
    "AWS_REGION: no AWS region is set, and the AWS SDK found none (AWS_DEFAULT_REGION, the "
    "profile's region). Set AWS_REGION to the function's region (ECS tasks have it), or give "
    "LAMBDA_FUNCTION_NAME as the function's ARN."
)


# For writes the bridge retries itself, loudly, for as long as it takes (dead letters): one
# attempt each, so a failure is seen at once rather than after the SDK's own retries.
ONE_ATTEMPT = AioConfig(retries={"total_max_attempts": 1}, connect_timeout=10)


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
    region: str | None = None,
    **options: Any,
) -> Any:
    """An aioboto3 client of `service`, closed with `resources`: in `region` (a queue's or
    topic's own, from its ARN or URL) when given, else in the bridge's."""
    try:
        return await resources.enter_async_context(
            (session or aioboto3.Session()).client(
                service, region_name=region or sdk_region(settings), **options
            )
        )
    except NoRegionError:
        raise ConfigurationError(_NO_REGION) from None
