"""The image checks' fixtures: the image built from the working tree (or the reason it
cannot be, which skips every check here), the embedded broker and a fresh /tmp volume."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumer.local.tansu import TansuBroker
from tests.support.container_image import ImageUnavailable, ensure_image
from tests.support.image_run import fresh_tmp_volume
from tests.support.kafka_records import KafkaTestClient


@pytest.fixture(scope="session")
def image() -> str:
    """The image's name, built now (seconds when `make test` has just built it)."""
    try:
        return ensure_image()
    except ImageUnavailable as unavailable:
        pytest.skip(f"the image checks need podman: {unavailable}")


@pytest.fixture(scope="session")
def embedded_broker(
    image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KafkaTestClient]:
    """The local mode's broker (Tansu) on the host's loopback, where the container reaches it."""
    broker = TansuBroker(tmp_path_factory.mktemp("tansu") / "tansu.log")
    asyncio.run(broker.start())
    try:
        yield KafkaTestClient(bootstrap=broker.bootstrap)
    finally:
        broker.stop()


@pytest.fixture
def tmp_volume() -> Iterator[tuple[str, Path]]:
    """(volume name, its directory here): the task's /tmp, fresh for each check."""
    with fresh_tmp_volume() as volume:
        yield volume
