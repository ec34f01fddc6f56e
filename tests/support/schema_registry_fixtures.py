"""The schema registries the suite runs against: real Apicurio Registry JVMs speaking the
Confluent API (tests/support/schema_registry_server.py), one open and one that wants HTTP
basic credentials, each started once per session when a test first asks for it.

Both keep schemas in memory for the session; tests keep apart by using subjects of their own
(topic names with a random part).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consumer.local.broker_process import BrokerStartError
from tests.support.schema_registry_server import (
    BasicAuthUser,
    SchemaRegistryBuildError,
    SchemaRegistryServer,
    ensure_registry_built,
)

# The registry's credentials, as a Confluent Cloud API key and secret would be.
REGISTRY_USER = BasicAuthUser(username="sr-api-key", password="sr-api-secret-7Qw2")


def _started_registry(
    tmp_path_factory: pytest.TempPathFactory, basic_auth: BasicAuthUser | None
) -> SchemaRegistryServer:
    log_dir = tmp_path_factory.mktemp("schema-registry")
    try:
        server = SchemaRegistryServer(
            ensure_registry_built(), log_dir / "registry.log", basic_auth=basic_auth
        )
        server.start()
    except (SchemaRegistryBuildError, BrokerStartError) as error:
        pytest.fail(str(error), pytrace=False)  # what is missing, or the registry's log
    return server


@pytest.fixture(scope="session")
def schema_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchemaRegistryServer]:
    """An open registry: `schema_registry.url` is the Confluent API's base URL."""
    server = _started_registry(tmp_path_factory, basic_auth=None)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def schema_registry_with_basic_auth(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SchemaRegistryServer]:
    """A registry that answers 401 without `REGISTRY_USER`'s credentials (`.basic_auth`)."""
    server = _started_registry(tmp_path_factory, basic_auth=REGISTRY_USER)
    try:
        yield server
    finally:
        server.stop()
