"""An OIDC identity provider for the OAUTHBEARER tests: it signs access tokens (RS256) with a
key of its own, publishes the public key as a JWKS file the Apache Kafka broker validates
tokens against (Kafka's own OAuthBearerValidatorCallbackHandler), and serves the
client-credentials token endpoint the bridge asks, on a loopback port.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import unquote_plus

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from consumer.local.broker_process import free_loopback_port

OAUTH_CLIENT_ID = "bridge-oauth"  # also the principal the broker sees (the `sub` claim)
OAUTH_CLIENT_SECRET = "oauth-secret-Qm4v"  # tests assert this never reaches a log


class IdentityProvider:
    """Signs tokens for one client; `jwks_path` is what the broker trusts."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = uuid.uuid4().hex
        public = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        self.jwks_path = folder / "jwks.json"
        self.jwks_path.write_text(
            json.dumps({"keys": [{**public, "kid": self._kid, "alg": "RS256", "use": "sig"}]})
        )
        self.issued = 0
        self.tokens: list[str] = []  # every token issued, for tests that look for them in logs

    def issue(self, subject: str, lifetime_s: float) -> str:
        now = time.time()
        claims = {"sub": subject, "iat": int(now), "exp": int(now + lifetime_s), "scope": "kafka"}
        self.issued += 1
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})
        self.tokens.append(token)
        return token


@asynccontextmanager
async def token_endpoint(
    provider: IdentityProvider, *, lifetime_s: float = 3600, expires_in: object = None
) -> AsyncIterator[str]:
    """Serves POST /token (client credentials, client_secret_basic) on a loopback port;
    yields its URL. A wrong client id or secret gets 401 invalid_client, as RFC 6749 says.
    `expires_in` overrides what the answer says of the lifetime (a broken provider)."""

    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if _basic_credentials(request) != (OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET):
            return web.json_response({"error": "invalid_client"}, status=401)
        access_token = provider.issue(OAUTH_CLIENT_ID, lifetime_s)
        return web.json_response(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": lifetime_s if expires_in is None else expires_in,
            }
        )

    app = web.Application()
    app.router.add_post("/token", token)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_loopback_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/token"
    finally:
        await runner.cleanup()


def _basic_credentials(request: web.Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    user, _, secret = base64.b64decode(encoded).decode().partition(":")
    return unquote_plus(user), unquote_plus(secret)
