"""What both baselines share: settings from the environment, a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from consumer.errors import BridgeError
from consumer.operations.logs import configure_logging
from consumer.settings.model import BridgeSettings, load_settings

Baseline = Callable[[BridgeSettings], Coroutine[Any, Any, None]]


def run_until_signalled(baseline: Baseline) -> int:
    """Runs `baseline(settings)` until SIGTERM/SIGINT cancels it; the exit code."""
    configure_logging("WARNING")
    try:
        settings = load_settings()
    except BridgeError as error:
        print(error, file=sys.stderr)
        return error.exit_code

    async def main() -> None:
        task = asyncio.create_task(baseline(settings))
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):  # a signal: the clean stop
            await task

    asyncio.run(main())
    return 0
