"""The invoke path over real HTTP: what is sent is signed as botocore would sign it (checked
by the server with botocore's own signer), answers are classified by their status, headers
and body, and refreshed credentials are used from the next invocation on.

The server is a real aiohttp application answering each Invoke with a scripted response;
the credentials come from a real container-credentials endpoint, as on ECS.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from consumer.aws_lambda.answers import Outcome
from consumer.aws_lambda.invoker import LambdaInvoker
from consumer.errors import LambdaStartupError
from consumer.local.lambda_api import INVOKE_ROUTE
from consumer.settings.model import load_settings

REGION = "eu-west-1"
_SIGNATURE = re.compile(r"Credential=([^/]+)/[^,]+, SignedHeaders=([^,]+), Signature=(\w+)")


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"null"
    headers: dict[str, str] = field(default_factory=dict)
    hold: asyncio.Event | None = None  # answer only once this is set


@dataclass
class Seen:
    path: str
    query: str
    access_key: str
    signature_valid: bool
    invocation_type: str
    body: bytes


class ScriptedLambda:
    """Answers Invoke with `answers` in turn; checks each request's SigV4 signature against
    the secret `secrets[access_key]` with botocore's signer."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self.secrets: dict[str, tuple[str, str | None]] = {}
        self.seen: list[Seen] = []
        self.url = ""

    async def invoke(self, request: web.Request) -> web.Response:
        body = await request.read()
        match = _SIGNATURE.search(request.headers.get("Authorization", ""))
        assert match, request.headers
        access_key, signed, signature = match.groups()
        secret, token = self.secrets[access_key]
        reference = AWSRequest(
            method="POST",
            url=f"{request.scheme}://{request.host}{request.raw_path}",
            headers={name: request.headers[name] for name in signed.split(";")},
            data=body,
        )
        reference.context["timestamp"] = request.headers["X-Amz-Date"]
        auth = SigV4Auth(Credentials(access_key, secret, token), "lambda", REGION)
        expected = auth.signature(
            auth.string_to_sign(reference, auth.canonical_request(reference)), reference
        )
        self.seen.append(
            Seen(
                request.path,
                request.query_string,
                access_key,
                expected == signature,
                request.headers["X-Amz-Invocation-Type"],
                body,
            )
        )
        answer = self.answers.pop(0) if self.answers else Answer()
        if answer.hold is not None:
            await answer.hold.wait()
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)


class CredentialsEndpoint:
    """A container-credentials endpoint (as ECS serves the task role's) handing out a new
    key each time, valid for five minutes: within botocore's refresh window, so every
    invocation asks again."""

    def __init__(self, lambda_: ScriptedLambda) -> None:
        self._lambda = lambda_
        self._numbers: Iterator[int] = itertools.count()
        self.served: list[str] = []

    async def serve(self, request: web.Request) -> web.Response:
        n = next(self._numbers)
        key, secret, token = f"ASIAKEY{n}", f"secret-{n}", f"token-{n}"
        self._lambda.secrets[key] = (secret, token)
        self.served.append(key)
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
        return web.json_response(
            {
                "AccessKeyId": key,
                "SecretAccessKey": secret,
                "Token": token,
                "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[ScriptedLambda, CredentialsEndpoint]]:
    lambda_ = ScriptedLambda()
    credentials = CredentialsEndpoint(lambda_)
    app = web.Application()
    app.router.add_post(INVOKE_ROUTE, lambda_.invoke)
    app.router.add_get("/credentials", credentials.serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    lambda_.url = f"http://{host}:{port}"
    try:
        yield lambda_, credentials
    finally:
        await runner.cleanup()


@pytest.fixture
def static_keys(monkeypatch: pytest.MonkeyPatch, scripted: tuple[ScriptedLambda, object]) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSTATIC")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "static-secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    scripted[0].secrets["AKIDSTATIC"] = ("static-secret", None)


def without_aws_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No keys in the environment, no profile files: the chain must look further."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, "/nonexistent")


def invoker(url: str, **env: str) -> LambdaInvoker:
    """The bridge's invoker for function `curation` at the endpoint `url`."""
    settings = load_settings(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
            "KAFKA_TOPIC": "t",
            "KAFKA_GROUP_ID": "g",
            "LAMBDA_FUNCTION_NAME": "curation",
            "LAMBDA_ENDPOINT_URL": url,
            "AWS_REGION": REGION,
            **env,
        }
    )
    return LambdaInvoker(settings)


@pytest.mark.usefixtures("static_keys")
@pytest.mark.parametrize(
    ("answer", "outcome", "error_type"),
    [
        (Answer(200, b'{"ok": true}'), Outcome.DELIVERED, None),
        (
            Answer(200, b'{"errorType":"KeyError"}', {"X-Amz-Function-Error": "Unhandled"}),
            Outcome.FUNCTION_ERROR,
            "KeyError",
        ),
        (
            Answer(
                429,
                b'{"message":"Rate exceeded"}',
                {"x-amzn-ErrorType": "TooManyRequestsException"},
            ),
            Outcome.THROTTLED,
            "TooManyRequestsException",
        ),
        (Answer(502, b"<html><body>Bad Gateway</body></html>"), Outcome.RETRYABLE, "502"),
        (
            Answer(404, b'{"message":"no"}', {"x-amzn-ErrorType": "ResourceNotFoundException:x"}),
            Outcome.FATAL,
            "ResourceNotFoundException",
        ),
        (
            Answer(413, b'{"message":"too big"}', {"x-amzn-ErrorType": "RequestTooLargeException"}),
            Outcome.FATAL,
            "RequestTooLargeException",
        ),
    ],
)
async def test_answers_are_classified_and_requests_signed(
    scripted: tuple[ScriptedLambda, CredentialsEndpoint],
    answer: Answer,
    outcome: Outcome,
    error_type: str | None,
) -> None:
    lambda_, _ = scripted
    lambda_.answers.append(answer)
    async with invoker(lambda_.url) as bridge_invoker:
        result = await bridge_invoker.invoke(b'{"records": {}}')
    assert (result.outcome, result.error_type) == (outcome, error_type)
    [seen] = lambda_.seen
    assert seen.signature_valid
    assert (seen.path, seen.body) == (
        "/2015-03-31/functions/curation/invocations",
        b'{"records": {}}',
    )


@pytest.mark.usefixtures("static_keys")
async def test_an_arn_with_a_qualifier_is_addressed_and_signed_as_sent(
    scripted: tuple[ScriptedLambda, CredentialsEndpoint],
) -> None:
    lambda_, _ = scripted
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:curation"
    async with invoker(
        lambda_.url,
        LAMBDA_FUNCTION_NAME=arn,
        LAMBDA_QUALIFIER="live",
        LAMBDA_INVOCATION_TYPE="Event",
    ) as bridge_invoker:
        result = await bridge_invoker.invoke(bytes(range(256)))
    assert result.outcome is Outcome.DELIVERED
    [seen] = lambda_.seen
    assert seen.signature_valid
    assert (seen.path, seen.query, seen.invocation_type) == (
        f"/2015-03-31/functions/{arn}/invocations",
        "Qualifier=live",
        "Event",
    )


@pytest.mark.usefixtures("static_keys")
async def test_without_aws_region_an_arn_s_region_signs_the_request(
    scripted: tuple[ScriptedLambda, CredentialsEndpoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    lambda_, _ = scripted
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    settings = load_settings(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
            "KAFKA_TOPIC": "t",
            "KAFKA_GROUP_ID": "g",
            "LAMBDA_FUNCTION_NAME": f"arn:aws:lambda:{REGION}:123456789012:function:curation",
            "LAMBDA_ENDPOINT_URL": lambda_.url,
        }
    )
    async with LambdaInvoker(settings) as bridge_invoker:
        result = await bridge_invoker.invoke(b"{}")
    assert result.outcome is Outcome.DELIVERED
    [seen] = lambda_.seen
    assert seen.signature_valid  # the server checks it as signed for REGION


@pytest.mark.usefixtures("static_keys")
async def test_an_answer_slower_than_the_read_timeout_is_retryable(
    scripted: tuple[ScriptedLambda, CredentialsEndpoint],
) -> None:
    lambda_, _ = scripted
    never = asyncio.Event()
    lambda_.answers.append(Answer(hold=never))
    async with invoker(lambda_.url, LAMBDA_READ_TIMEOUT_SECONDS="1") as bridge_invoker:
        result = await bridge_invoker.invoke(b"{}")
        never.set()
    assert result.outcome is Outcome.RETRYABLE
    assert result.error_type is not None
    assert "Timeout" in result.error_type


async def test_refreshed_credentials_sign_the_next_invocation(
    scripted: tuple[ScriptedLambda, CredentialsEndpoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    lambda_, credentials = scripted
    without_aws_keys(monkeypatch)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{lambda_.url}/credentials")
    async with invoker(lambda_.url) as bridge_invoker:
        for _ in range(3):
            assert (await bridge_invoker.invoke(b"{}")).outcome is Outcome.DELIVERED
    used = [seen.access_key for seen in lambda_.seen]
    assert all(seen.signature_valid for seen in lambda_.seen)
    assert len(set(used)) == 3, used  # each invocation signed with the key just served
    assert set(used) <= set(credentials.served)


@pytest.mark.usefixtures("static_keys")
@pytest.mark.parametrize("code", ["UnrecognizedClientException", "ExpiredTokenException"])
async def test_refused_credentials_at_the_dry_run_are_named_as_such(
    scripted: tuple[ScriptedLambda, CredentialsEndpoint], code: str
) -> None:
    lambda_, _ = scripted
    lambda_.answers.append(
        Answer(403, b'{"message":"The security token is invalid"}', {"x-amzn-ErrorType": code})
    )
    async with invoker(lambda_.url) as bridge_invoker:
        with pytest.raises(LambdaStartupError) as refused:
            await bridge_invoker.check_invokable()
    message = str(refused.value)
    assert message.startswith(f"the AWS credentials were refused ({code}:")
    assert "AWS_SESSION_TOKEN" in message


async def test_no_credentials_at_all_are_named_before_anything_is_sent(
    scripted: tuple[ScriptedLambda, CredentialsEndpoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    lambda_, _ = scripted
    without_aws_keys(monkeypatch)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    async with invoker(lambda_.url) as bridge_invoker:
        with pytest.raises(LambdaStartupError, match=r"^no AWS credentials were found"):
            await bridge_invoker.check_invokable()
        result = await bridge_invoker.invoke(b"{}")  # had the check been skipped
    assert (result.outcome, result.error_type) == (Outcome.RETRYABLE, "NoCredentialsError")
    assert lambda_.seen == []
