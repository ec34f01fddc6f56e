"""The bridge's image run as the ECS task runs it (infra/container.py): a read-only root
filesystem, the task's non-root user and a volume on /tmp, nothing else writable. The host's
network (tests/support/containers.conf) lets it reach the checks' broker and Lambda on
127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from infra.container import CONTAINER_USER, TMP_PATH
from tests.support.podman import podman, podman_environment


@contextlib.contextmanager
def fresh_tmp_volume() -> Iterator[tuple[str, Path]]:
    """A fresh named volume for /tmp and where its files are on this machine. podman gives
    it the owner and mode of the image's /tmp, as Fargate does its task volumes."""
    name = f"k2l-tmp-{uuid.uuid4().hex[:12]}"
    podman("volume", "create", name)
    try:
        yield name, Path(podman("volume", "inspect", "--format", "{{.Mountpoint}}", name).strip())
    finally:
        podman("volume", "rm", "--force", name)


def run_arguments(
    image: str, name: str, volume: str, env: Mapping[str, str], command: tuple[str, ...] = ()
) -> list[str]:
    return [
        "run",
        "--rm",
        f"--name={name}",
        "--read-only",
        "--read-only-tmpfs=false",  # podman's default adds tmpfs on /run, /tmp, /var/tmp
        f"--user={CONTAINER_USER}",
        f"--volume={volume}:{TMP_PATH}",
        # ECS runs the task definition's check, when it wants; so do the checks (exec).
        "--no-healthcheck",
        *(f"--env={variable}={value}" for variable, value in sorted(env.items())),
        image,
        *command,
    ]


async def _podman_process(*arguments: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        "podman",
        *arguments,
        env=podman_environment(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def podman_async(*arguments: str, timeout_s: float = 60) -> tuple[int, str]:
    """(exit code, output) of a podman command, without blocking the loop the checks'
    Lambda serves on."""
    process = await _podman_process(*arguments)
    output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    assert process.returncode is not None
    return process.returncode, output.decode()


class Container:
    """One attached `podman run` of the image: its output lines as they come, and its end."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.lines: list[str] = []
        self._process = process
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._process.stdout is not None
        async for line in self._process.stdout:
            self.lines.append(line.decode().rstrip("\n"))

    def logged(self) -> list[dict[str, Any]]:
        """The bridge's log lines (JSON objects; not metrics, not podman's own lines)."""
        objects = [json.loads(line) for line in self.lines if line.startswith("{")]
        return [line for line in objects if "_aws" not in line]

    def messages(self) -> list[str]:
        return [line["message"] for line in self.logged()]

    async def until(self, condition: Callable[[], bool], timeout_s: float = 120) -> None:
        """Waits for `condition`; fails at once, with the output, if the container exits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not condition():
            if not self.running:
                raise AssertionError(f"the container exited first:\n{self.output()}")
            if loop.time() > deadline:
                raise TimeoutError(
                    f"not within {timeout_s} s; the container said:\n{self.output()}"
                )
            await asyncio.sleep(0.05)

    async def exec(self, *command: str) -> tuple[int, str]:
        return await podman_async("exec", self.name, *command)

    async def stop(self, stop_timeout_s: float) -> None:
        """As ECS stops a task: SIGTERM, then SIGKILL after `stop_timeout_s`."""
        await podman_async("stop", f"--time={stop_timeout_s:.0f}", self.name, timeout_s=120)

    async def exit_code(self, timeout_s: float = 120) -> int:
        await asyncio.wait_for(self._process.wait(), timeout_s)
        await self._reader
        assert self._process.returncode is not None
        return self._process.returncode

    @property
    def running(self) -> bool:
        return self._process.returncode is None

    def output(self) -> str:
        return "\n".join(self.lines[-60:])


@contextlib.asynccontextmanager
async def running_image(
    image: str, volume: str, env: Mapping[str, str], *command: str
) -> AsyncIterator[Container]:
    """The image running; removed at the end if it has not exited by then."""
    name = f"k2l-check-{uuid.uuid4().hex[:12]}"
    arguments = run_arguments(image, name, volume, env, command)
    container = Container(name, await _podman_process(*arguments))
    try:
        yield container
    finally:
        if container.running:
            await podman_async("rm", "--force", "--time=0", name)
            await container.exit_code()


async def run_image(
    image: str, volume: str, env: Mapping[str, str], *command: str, timeout_s: float = 120
) -> tuple[int, str]:
    """(exit code, output) of the image run to its end."""
    name = f"k2l-check-{uuid.uuid4().hex[:12]}"
    return await podman_async(
        *run_arguments(image, name, volume, env, command), timeout_s=timeout_s
    )
