"""moto in server mode: real HTTP endpoints for S3, SSM, IAM and ECR, on a free loopback port.

Clients reach it through `aws_client_kwargs(...)`. State lives in moto's in-process
backends, so it survives `stop()`/`start()` of a server on the same port — which is how
tests simulate an AWS outage and its end.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aioboto3
import pytest
from moto.server import ThreadedMotoServer

from consumer.local.broker_process import free_loopback_port

REGION = "us-east-1"


@dataclass
class MotoServer:
    port: int
    _server: ThreadedMotoServer | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()  # returns once the socket is bound and serving

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for boto3/aioboto3 `client(...)` aimed at this server."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": REGION,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server for the session; tests use names of their own (buckets, parameters)."""
    server = MotoServer(port=free_loopback_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_moto_server() -> Iterator[MotoServer]:
    """A moto server the test may stop and start again (an AWS outage and its recovery)."""
    server = MotoServer(port=free_loopback_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_test_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake AWS keys for clients the bridge creates itself (moto accepts any)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
async def s3_bucket(moto_server: MotoServer) -> str:
    """A new, empty bucket on the session's moto server."""
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    async with aioboto3.Session().client("s3", **moto_server.client_kwargs()) as s3:
        await s3.create_bucket(Bucket=name)
    return name
