"""The bridge's JSON log lines, read from its process as it writes them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any


class LogLines:
    """The bridge's JSON log lines, read as it writes them (metrics lines left out)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.lines: list[dict[str, Any]] = []
        self.found: list[dict[str, Any]] = []
        self._raw: list[str] = []

    async def until(self, message: str, timeout_s: float = 90) -> dict[str, Any]:
        """Reads lines until one says `message`; returns it."""
        return await self.until_fields(message, lambda fields: True, timeout_s)

    async def until_fields(
        self,
        message: str,
        matches: Callable[[dict[str, Any]], bool],
        timeout_s: float = 90,
    ) -> dict[str, Any]:
        """Reads lines until one says `message` with fields that `matches`; returns it."""
        assert self._process.stdout is not None
        async with asyncio.timeout(timeout_s):
            while True:
                raw = await self._process.stdout.readline()
                if not raw:
                    raise AssertionError(f"exited before {message!r}:\n{self.text()}")
                line = self._keep(raw)
                if line is not None and line["message"] == message and matches(line):
                    self.found.append(line)
                    return line

    async def finish(self) -> None:
        out, _ = await asyncio.wait_for(self._process.communicate(), 60)
        for raw in out.splitlines():
            self._keep(raw)

    def _keep(self, raw: bytes) -> dict[str, Any] | None:
        self._raw.append(raw.decode(errors="replace"))
        try:
            line = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(line, dict) or "level" not in line:
            return None  # an EMF metrics line
        self.lines.append(line)
        return line

    def text(self) -> str:
        return "".join(f"{raw}\n" for raw in self._raw)
