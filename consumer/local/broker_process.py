"""Runs a Kafka broker as a child process: start it, know when it answers, stop it.

Shared by the embedded Tansu broker of the local mode and the Apache Kafka broker of the
test suite. The child is killed by the kernel if this process dies first, so an
interrupted run never leaves a broker behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


class BrokerStartError(RuntimeError):
    """The broker exited or did not answer in time; the message ends with its log's tail."""


def free_loopback_port() -> int:
    return free_loopback_ports(1)[0]


def free_loopback_ports(count: int) -> list[int]:
    """`count` ports free now, all different: each is held while the next is chosen (one at
    a time, the OS may hand out a port just released)."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            probe = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
        return ports


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask Linux to SIGKILL it when we exit.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def start_broker_process(
    command: Sequence[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Starts `command` with stdout and stderr appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # a Ctrl-C at the terminal is ours to handle, not the broker's
            preexec_fn=_die_with_parent,
        )


def log_tail(log_path: Path, max_chars: int = 4000) -> str:
    try:
        return log_path.read_text(errors="replace")[-max_chars:]
    except FileNotFoundError:
        return "(no log written)"


async def wait_until_kafka_answers(
    bootstrap: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    timeout_s: float,
    name: str = "broker",
) -> None:
    """Returns once the broker serves metadata and has a controller; raises if it dies first."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise BrokerStartError(
                f"{name} exited with code {process.returncode} while starting; "
                f"its log ({log_path}) ends with:\n{log_tail(log_path)}"
            )
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
            if cluster.get("controller_id", -1) >= 0 and cluster.get("brokers"):
                return
        except (KafkaError, OSError):
            pass  # not listening yet
        finally:
            await admin.close()
        if time.monotonic() > deadline:
            raise BrokerStartError(
                f"{name} did not answer on {bootstrap} within {timeout_s:.0f} s; "
                f"its log ({log_path}) ends with:\n{log_tail(log_path)}"
            )
        # The broker offers no readiness signal to wait on, so ask again shortly.
        await asyncio.sleep(0.2)


def stop_broker_process(process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """SIGTERM (a clean shutdown), then SIGKILL if it has not exited within `timeout_s`."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
