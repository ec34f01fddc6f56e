"""podman as the image checks run it: with the project's containers.conf, and the reason,
when there is one, why it cannot run here (the checks then skip and say it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CONTAINERS_CONF = Path(__file__).with_name("containers.conf")


class PodmanError(RuntimeError):
    """A podman command failed; the message holds the command and what podman said."""


def podman_environment() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*arguments: str, timeout_s: float = 120, show_output: bool = False) -> str:
    """Runs `podman <arguments>` to its end and returns its output (or shows it as it comes,
    for long steps); raises PodmanError."""
    done = subprocess.run(
        ["podman", *arguments],
        env=podman_environment(),
        stdin=subprocess.DEVNULL,
        capture_output=not show_output,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        said = "(shown above)" if show_output else (done.stdout + done.stderr).strip()[-3000:]
        raise PodmanError(f"podman {' '.join(arguments)} exited {done.returncode}: {said}")
    return done.stdout or ""


def why_podman_cannot_run() -> str | None:
    """None where the image checks can run podman; else why not, and how to change that.

    As root, podman is expected to work once installed: a failure then is the checks' to
    report, not a reason to skip them.
    """
    if shutil.which("podman") is None:
        return (
            "podman is not installed; `make test` installs it (with apt-get) where it runs "
            "as root, as in CI"
        )
    if os.geteuid() != 0:
        try:
            podman("info", timeout_s=30)
        except (PodmanError, subprocess.TimeoutExpired) as error:
            last_line = str(error).strip().splitlines()[-1]
            return f"podman does not run for this user (not root): {last_line}"
    return None
