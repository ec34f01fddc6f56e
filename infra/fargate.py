"""What Fargate allows: task sizes, the stop timeout, and the image platform per architecture."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final


def _mib(first: int, last: int, step: int) -> tuple[int, ...]:
    return tuple(range(first, last + 1, step))


# CPU units → the memory sizes (MiB) a Linux Fargate task may have with them.
FARGATE_MEMORY_MIB_BY_CPU: Final[Mapping[int, tuple[int, ...]]] = {
    256: (512, 1024, 2048),
    512: _mib(1024, 4096, 1024),
    1024: _mib(2048, 8192, 1024),
    2048: _mib(4096, 16384, 1024),
    4096: _mib(8192, 30720, 1024),
    8192: _mib(16384, 61440, 4096),
    16384: _mib(32768, 122880, 8192),
}
# The longest a container may take to stop after SIGTERM on Fargate.
MAX_STOP_TIMEOUT_S: Final = 120
# The task's CPU architecture → the platform the image is built for.
IMAGE_PLATFORMS: Final[Mapping[str, str]] = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}


def describe_memory_choices(cpu: int) -> str:
    choices = FARGATE_MEMORY_MIB_BY_CPU[cpu]
    if len(choices) <= 3:
        return "allowed: " + ", ".join(map(str, choices)) + " MiB"
    step = choices[1] - choices[0]
    return f"allowed: {choices[0]} to {choices[-1]} MiB in steps of {step}"
