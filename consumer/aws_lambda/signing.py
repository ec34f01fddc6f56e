"""AWS Signature Version 4 for the one request the bridge sends per batch: Lambda's Invoke.

botocore's `SigV4Auth` signs any request of any service; per call it splits the URL, builds
and sorts the header list, normalizes the path and derives the signing key with four HMACs:
about 50 µs of CPU for a 12 KB payload, where this takes 10 (6.5 of them the payload's
SHA-256, which SigV4 requires). Here the method, path, query, host and signed-header names
are the same for every call, so they are rendered once; the signing key is derived once a
day per secret; a call hashes the payload, formats the date and computes two digests.
tests/consumer/aws_lambda/test_invoke_signing.py checks the result is byte for byte
botocore's for the same request and time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote, urlsplit

_ALGORITHM = "AWS4-HMAC-SHA256"
_SERVICE = "lambda"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FrozenCredentials(NamedTuple):
    """botocore's ReadOnlyCredentials has these fields (it is what is passed in)."""

    access_key: str
    secret_key: str
    token: str | None


@dataclass(frozen=True)
class InvokeTarget:
    """Where an Invoke of one function goes, as botocore would send it."""

    url: str  # already percent-encoded: send it as it is
    hostname: str  # to connect to
    port: int
    tls: bool
    request_target: str  # the path and query of the request line
    host_header: str  # the Host header, exactly as signed
    signer: InvokeSigner


def invoke_target(
    endpoint_url: str, region: str, function_name: str, qualifier: str | None
) -> InvokeTarget:
    """The Invoke URL botocore would build and a signer for it. The name is encoded whole, an
    ARN's colons too."""
    endpoint = urlsplit(endpoint_url)
    path = f"/2015-03-31/functions/{quote(function_name, safe='-_.~')}/invocations"
    query = f"Qualifier={quote(qualifier, safe='-_.~')}" if qualifier else ""
    request_target = path + (f"?{query}" if query else "")
    host = _signed_host(endpoint_url)
    return InvokeTarget(
        url=f"{endpoint.scheme}://{endpoint.netloc}{request_target}",
        hostname=endpoint.hostname or "",
        port=endpoint.port or _DEFAULT_PORTS[endpoint.scheme],
        tls=endpoint.scheme == "https",
        request_target=request_target,
        host_header=host,
        signer=InvokeSigner(host=host, region=region, path=path, query=query),
    )


class InvokeSigner:
    """Signs Invoke requests to one function, region and host.

    Invariant: `_canonical_head` is the canonical request up to the headers; `_key` is the
    signing key for (`_key_secret`, `_key_date`) and is derived again when either changes.
    """

    def __init__(self, *, host: str, region: str, path: str, query: str) -> None:
        self._host = host
        self._region = region
        # SigV4 encodes the path once more for every service but S3 (`%3A` → `%253A`).
        self._canonical_head = f"POST\n{quote(path, safe='/~')}\n{query}\nhost:{host}\n"
        self._key_date = ""
        self._key_secret = ""
        self._key = b""

    def headers(
        self,
        credentials: FrozenCredentials,
        invocation_type: str,
        payload: bytes,
        now: float | None = None,
    ) -> dict[str, str]:
        """The headers that make `payload` a signed Invoke: send them with it unchanged."""
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        date = amz_date[:8]
        token = credentials.token
        if token:
            signed = "host;x-amz-date;x-amz-invocation-type;x-amz-security-token"
            canonical_headers = (
                f"x-amz-date:{amz_date}\nx-amz-invocation-type:{invocation_type}\n"
                f"x-amz-security-token:{token}\n"
            )
        else:
            signed = "host;x-amz-date;x-amz-invocation-type"
            canonical_headers = f"x-amz-date:{amz_date}\nx-amz-invocation-type:{invocation_type}\n"
        canonical_request = (
            f"{self._canonical_head}{canonical_headers}\n{signed}\n"
            f"{hashlib.sha256(payload).hexdigest()}"
        )
        scope = f"{date}/{self._region}/{_SERVICE}/aws4_request"
        string_to_sign = (
            f"{_ALGORITHM}\n{amz_date}\n{scope}\n"
            f"{hashlib.sha256(canonical_request.encode()).hexdigest()}"
        )
        signature = hmac.new(
            self._signing_key(credentials.secret_key, date),
            string_to_sign.encode(),
            hashlib.sha256,
        ).hexdigest()
        headers = {
            "X-Amz-Date": amz_date,
            "X-Amz-Invocation-Type": invocation_type,
            "Authorization": (
                f"{_ALGORITHM} Credential={credentials.access_key}/{scope}, "
                f"SignedHeaders={signed}, Signature={signature}"
            ),
        }
        if token:
            headers["X-Amz-Security-Token"] = token
        return headers

    def _signing_key(self, secret: str, date: str) -> bytes:
        if date != self._key_date or secret != self._key_secret:
            key = _hmac(f"AWS4{secret}".encode(), date)
            for part in (self._region, _SERVICE, "aws4_request"):
                key = _hmac(key, part)
            self._key, self._key_date, self._key_secret = key, date, secret
        return self._key


def _signed_host(endpoint_url: str) -> str:
    """The host SigV4 signs, as botocore takes it: without the port when it is the default."""
    parts = urlsplit(endpoint_url)
    if parts.port is None or parts.port == _DEFAULT_PORTS.get(parts.scheme):
        return parts.hostname or parts.netloc
    return parts.netloc


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()
