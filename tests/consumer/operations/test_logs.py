"""The bridge's log setup: JSON lines, and aiokafka's per-heartbeat rebalance warnings left out."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from consumer.operations.logs import configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("restored_logging")
def test_rebalance_heartbeats_are_left_out_and_other_aiokafka_warnings_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    for _ in range(3):
        coordinator.warning("Heartbeat failed for group %s because it is rebalancing", "g")
    coordinator.warning("Heartbeat failed for group %s: generation id is not  current.", "g")
    logging.getLogger("consumer.bridge").info("revoking partitions")

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["message"] for line in lines] == [
        "Heartbeat failed for group g: generation id is not  current.",
        "revoking partitions",
    ]
