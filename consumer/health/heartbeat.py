"""Liveness: the bridge's event loop rewrites a heartbeat file; `python -m consumer.health`
reads it and exits 0 when it is fresh, 1 otherwise (the container HEALTHCHECK and the ECS
task definition's health check run it).

A file, not a port: the task needs no listener, and a wedged event loop stops writing it.
The file is replaced atomically, so the checker never reads half of one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_HEALTH_FILE = "/tmp/kafka-to-lambda.health"
# A heartbeat older than this many intervals means the loop is stuck.
STALE_AFTER_INTERVALS = 3


def write_heartbeat(path: Path, state: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps({"written_at": time.time(), **state}))
    os.replace(temporary, path)


async def beat(path: Path, interval_s: float, state: Callable[[], dict[str, Any]]) -> None:
    """Rewrites the heartbeat every `interval_s` until cancelled; removes it on the way out."""
    try:
        while True:
            write_heartbeat(path, {"interval_s": interval_s, **state()})
            await asyncio.sleep(interval_s)
    finally:
        remove_heartbeat(path)


def remove_heartbeat(path: Path) -> None:
    path.unlink(missing_ok=True)


def check(path: Path, now: float | None = None) -> tuple[bool, str]:
    """(healthy, why) from the heartbeat file at `path`."""
    try:
        heartbeat = json.loads(path.read_text())
        age_s = (time.time() if now is None else now) - float(heartbeat["written_at"])
        interval_s = float(heartbeat["interval_s"])
    except FileNotFoundError:
        return False, f"no heartbeat at {path}: the bridge is not running (or still starting)"
    except (ValueError, KeyError, TypeError) as unreadable:
        return False, f"heartbeat at {path} is unreadable: {unreadable}"
    if age_s > STALE_AFTER_INTERVALS * interval_s:
        return False, f"heartbeat is {age_s:.0f} s old: the event loop is stuck"
    if _wedged(heartbeat):
        return False, (
            f"wedged: nothing delivered for over {heartbeat['stall_alarm_s']:.0f} s while "
            f"{heartbeat['lag']} records wait and nothing is in flight"
        )
    return True, f"heartbeat {age_s:.1f} s old"


def _wedged(heartbeat: dict[str, Any]) -> bool:
    """No progress while there is work and nothing is being tried. A long invocation is in
    flight, so however long the function runs (up to 900 s) it does not count."""
    if "last_progress_at" not in heartbeat:
        return False
    idle_s = float(heartbeat["written_at"]) - float(heartbeat["last_progress_at"])
    return (
        heartbeat.get("lag", 0) > 0
        and heartbeat.get("in_flight", 0) == 0
        and idle_s > float(heartbeat["stall_alarm_s"])
    )


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m consumer.health",
        description=(
            "The container's health check: reads the heartbeat the bridge writes to "
            f"HEALTH_FILE (default {DEFAULT_HEALTH_FILE}); exits 0 and says 'healthy' while it "
            "is fresh and the bridge is not wedged (work waiting, nothing in flight, no "
            "progress for STALL_ALARM_SECONDS), else 1 and says why."
        ),
    ).parse_args(argv)
    healthy, why = check(Path(os.environ.get("HEALTH_FILE", DEFAULT_HEALTH_FILE)))
    print(("healthy: " if healthy else "unhealthy: ") + why)
    return 0 if healthy else 1
