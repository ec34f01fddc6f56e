"""Tokens for SASL/OAUTHBEARER: OIDC client credentials, and MSK's IAM tokens.

aiokafka asks a token provider for a token on every new connection. `CachedTokenProvider`
keeps one token and fetches a new one once 80 % of its lifetime has passed (an MSK token
lives 15 minutes, so about every 12), one fetch at a time however many connections ask, and
never on the event loop's thread when the fetch blocks (the AWS signer reads credentials
synchronously).

The OIDC grant is one form POST (RFC 6749 §4.4) made with aiohttp, which the image already
has for aiobotocore; a general OAuth library would add a second HTTP client for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final
from urllib.parse import quote_plus

import aiohttp
import botocore.session
from aiokafka.abc import AbstractTokenProvider
from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

from consumer.errors import KafkaStartupError
from consumer.operations.logs import never_log

log = logging.getLogger("consumer.kafka_tokens")  # the name its log lines have always had

REFRESH_AT_LIFETIME_FRACTION: Final = 0.8
_TOKEN_REQUEST_TIMEOUT_S: Final = 15.0
# MSK brokers: b-1.<cluster>.<id>.c2.kafka.<region>.amazonaws.com (serverless: kafka-serverless).
_MSK_HOST_REGION = re.compile(r"\.kafka(?:-serverless)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")

# A token answer is a token and a few fields; an identity provider's is never trusted further.
MAX_TOKEN_ANSWER_BYTES = 64 * 1024
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
TokenFetch = Callable[[], Awaitable[tuple[str, float]]]  # → (token, expires at, Unix seconds)


class TokenUnavailableError(KafkaStartupError):
    """No token could be had: the message names the setting (or permission) to fix."""


class CachedTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """One token, fetched anew once most of its lifetime has passed.

    Invariants: `_token` is None, or is handed out only until `_refresh_at`, which lies 80 %
    of the way from its fetch to its expiry; at most one fetch runs at a time (the lock)."""

    def __init__(self, fetch: TokenFetch, extensions: Mapping[str, str] | None = None) -> None:
        self._fetch = fetch
        self._extensions = dict(extensions or {})
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many tokens were obtained: for the tests and the logs

    async def token(self) -> str:
        async with self._lock:
            now = time.time()
            if self._token is None or now >= self._refresh_at:
                token, expires_at = await self._fetch()
                never_log(token)  # at any level: aiokafka's DEBUG prints the SASL exchange
                self._token = token
                self._refresh_at = now + max(0.0, expires_at - now) * REFRESH_AT_LIFETIME_FRACTION
                self.fetches += 1
                log.info(
                    "kafka token obtained",
                    extra={"fields": {"expires_in_s": round(expires_at - now), "n": self.fetches}},
                )
            return self._token

    def extensions(self) -> dict[str, str]:
        return dict(self._extensions)


def oidc_client_credentials(
    token_url: str, client_id: str, client_secret: str, scope: str | None
) -> TokenFetch:
    """A fetch of an access token by the client-credentials grant (client_secret_basic)."""

    async def fetch() -> tuple[str, float]:
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        # client_secret_basic: each part form-encoded first (RFC 6749, section 2.3.1).
        basic = aiohttp.encode_basic_auth(quote_plus(client_id), quote_plus(client_secret))
        headers = {"Authorization": basic, "Accept": "application/json"}
        timeout = aiohttp.ClientTimeout(total=_TOKEN_REQUEST_TIMEOUT_S)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(token_url, data=form, headers=headers) as response,
            ):
                status = response.status
                try:  # one byte over the bound is enough to refuse the answer
                    body = await response.content.readexactly(MAX_TOKEN_ANSWER_BYTES + 1)
                except asyncio.IncompleteReadError as whole:
                    body = whole.partial  # the whole answer, within the bound
            answer: Any = _json_answer(body)
        except (aiohttp.ClientError, TimeoutError, ValueError) as problem:
            raise TokenUnavailableError(
                f"KAFKA_OAUTH_TOKEN_URL: no token from {token_url} "
                f"({type(problem).__name__}: {problem or 'no answer'}). Check the URL and the "
                "network path to it."
            ) from None
        if status != 200 or not isinstance(answer, dict) or "access_token" not in answer:
            error = _error_code(answer)
            if error == "invalid_client" or status == 401:
                raise TokenUnavailableError(
                    f"KAFKA_OAUTH_CLIENT_ID/KAFKA_OAUTH_CLIENT_SECRET: {token_url} refused the "
                    f"client (HTTP {status}, {error or 'no error code'}). Check the id and secret."
                )
            raise TokenUnavailableError(
                f"KAFKA_OAUTH_TOKEN_URL: {token_url} gave no access token (HTTP {status}, "
                f"{error or 'no error code'}). Check KAFKA_OAUTH_SCOPE and the client's grants."
            )
        try:
            lifetime_s = float(answer.get("expires_in", 3600))
        except (TypeError, ValueError):
            raise TokenUnavailableError(
                f"KAFKA_OAUTH_TOKEN_URL: {token_url} gave a token whose expires_in is not a "
                "number of seconds. Check that the URL is the identity provider's token endpoint."
            ) from None
        return str(answer["access_token"]), time.time() + lifetime_s

    return fetch


def _json_answer(body: bytes) -> Any:
    """The identity provider's answer as JSON; ValueError for one that is not, is too large
    or nests too deeply (its text is never shown: a provider may echo the request)."""
    if len(body) > MAX_TOKEN_ANSWER_BYTES:
        raise ValueError(f"an answer over {MAX_TOKEN_ANSWER_BYTES:,} bytes")
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("an answer nested too deeply") from None
    except ValueError:
        raise ValueError("an answer that is not JSON") from None


def _error_code(answer: Any) -> str | None:
    """RFC 6749's `error`, an ASCII code such as invalid_client; anything else is not shown
    (the provider's texts are unbounded and may echo the request's Authorization header)."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, str) and _ERROR_CODE.fullmatch(error):
        return error
    return None if error is None else "an error code that is not one"


def msk_iam_region(bootstrap_servers: str, configured_region: str | None) -> str | None:
    """The region of MSK brokers: from their host names, else the configured one."""
    for server in bootstrap_servers.split(","):
        host = server.strip().rpartition(":")[0]
        if found := _MSK_HOST_REGION.search(host):
            return found.group(1)
    return configured_region or botocore.session.Session().get_config_variable("region")


def msk_iam_signer(region: str) -> TokenFetch:
    """A fetch of an MSK IAM token, signed with the default credential chain's credentials
    (on ECS, the task role's) by AWS's signer library, off the event loop."""

    def sign() -> tuple[str, float]:
        if botocore.session.Session().get_credentials() is None:
            raise TokenUnavailableError(
                "KAFKA_SASL_MECHANISM=AWS_MSK_IAM: no AWS credentials (on ECS the task role "
                "gives them; elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY)."
            )
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
        return str(token), expiry_ms / 1000

    async def fetch() -> tuple[str, float]:
        return await asyncio.to_thread(sign)

    return fetch
