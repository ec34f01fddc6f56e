"""The bridge signs Invoke as botocore's Lambda client does, byte for byte.

The reference is the real aioboto3 client: a `before-send` hook takes the request it built
and signed, and stops it there. The bridge's signer is then given the same credentials,
payload and second, and must produce the same URL and the same headers.
"""

from __future__ import annotations

import calendar
import time
from typing import Any

import aioboto3
import pytest
from botocore.config import Config

from consumer.aws_lambda.signing import FrozenCredentials, invoke_target


class _Captured(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def _stop_and_capture(request: Any, **kwargs: Any) -> None:
    raise _Captured(request)


async def botocore_request(
    *,
    endpoint_url: str | None,
    region: str,
    credentials: FrozenCredentials,
    invocation_type: str,
    payload: bytes,
    function_name: str,
    qualifier: str | None,
) -> Any:
    session = aioboto3.Session(
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
    )
    target = {"FunctionName": function_name, **({"Qualifier": qualifier} if qualifier else {})}
    async with session.client(
        "lambda",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(retries={"total_max_attempts": 1}),
    ) as client:
        client.meta.events.register("before-send.lambda.Invoke", _stop_and_capture)
        with pytest.raises(_Captured) as captured:
            await client.invoke(InvocationType=invocation_type, Payload=payload, **target)
        return captured.value.request, client.meta.endpoint_url


def header(request: Any, name: str) -> str:
    value = request.headers[name]
    return value.decode() if isinstance(value, bytes) else str(value)


def signed_at(request: Any) -> int:
    return calendar.timegm(time.strptime(header(request, "X-Amz-Date"), "%Y%m%dT%H%M%SZ"))


KEYS = FrozenCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None)
SESSION_KEYS = FrozenCredentials("ASIAEXAMPLE", "c2VjcmV0/+key", "IQoJb3JpZ2luX2VjE//token==")


@pytest.mark.parametrize(
    ("endpoint_url", "region", "function_name", "qualifier"),
    [
        (None, "eu-west-1", "curation", None),
        (None, "us-east-1", "arn:aws:lambda:us-east-1:123456789012:function:curation", None),
        (None, "us-east-1", "arn:aws:lambda:us-east-1:123456789012:function:curation:live", None),
        (None, "ap-southeast-2", "123456789012:function:curation", "$LATEST"),
        (None, "us-west-2", "curation:7", None),
        ("http://127.0.0.1:9001", "us-east-1", "curation", "live"),
        ("https://lambda.example.test:8443", "eu-central-1", "curation", None),
        ("https://lambda.example.test:443", "eu-central-1", "curation", None),
        ("http://localhost", "us-east-1", "curation_v2", "blue-green"),
    ],
)
@pytest.mark.parametrize("credentials", [KEYS, SESSION_KEYS], ids=["keys", "session"])
@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event"])
async def test_the_bridge_signs_invoke_as_botocore_does(
    endpoint_url: str | None,
    region: str,
    function_name: str,
    qualifier: str | None,
    credentials: FrozenCredentials,
    invocation_type: str,
) -> None:
    payload = b'{"records": {"t-0": [{"value": "\\u00e9"}]}}' + bytes(range(256)) * 40
    reference, resolved_endpoint = await botocore_request(
        endpoint_url=endpoint_url,
        region=region,
        credentials=credentials,
        invocation_type=invocation_type,
        payload=payload,
        function_name=function_name,
        qualifier=qualifier,
    )
    target = invoke_target(resolved_endpoint, region, function_name, qualifier)

    headers = target.signer.headers(credentials, invocation_type, payload, now=signed_at(reference))

    assert target.url == reference.url
    assert target.url.endswith(target.request_target)
    expected = {
        name: header(reference, name)
        for name in ("X-Amz-Date", "X-Amz-Invocation-Type", "Authorization")
    }
    if credentials.token:
        expected["X-Amz-Security-Token"] = header(reference, "X-Amz-Security-Token")
    assert headers == expected


async def test_a_new_day_or_a_rotated_secret_derives_a_new_key() -> None:
    """The signing key is cached; a stale one would sign with yesterday's or the old secret."""
    payload = b"[]"
    signer = invoke_target("https://lambda.us-east-1.amazonaws.com", "us-east-1", "f", None).signer
    rotated = FrozenCredentials("AKIDROTATED", "a-new-secret", "new-token")
    for credentials in (KEYS, rotated, KEYS):
        reference, _ = await botocore_request(
            endpoint_url=None,
            region="us-east-1",
            credentials=credentials,
            invocation_type="RequestResponse",
            payload=payload,
            function_name="f",
            qualifier=None,
        )
        for day in (0, 1):  # the next day's signature differs, and is right too
            at = signed_at(reference) + day * 86_400
            headers = signer.headers(credentials, "RequestResponse", payload, now=at)
            if day == 0:
                assert headers["Authorization"] == header(reference, "Authorization")
            else:
                assert time.strftime("%Y%m%d", time.gmtime(at)) in headers["Authorization"]
                fresh = invoke_target(
                    "https://lambda.us-east-1.amazonaws.com", "us-east-1", "f", None
                ).signer.headers(credentials, "RequestResponse", payload, now=at)
                assert headers == fresh
