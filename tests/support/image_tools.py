"""Installs what the image checks need, once per machine, with apt-get (root only).

podman builds and runs the image; runc is the runtime it is told to use (containers.conf);
mmdebstrap makes the stand-in base image (tests/support/stand_in_base.py). Installed
packages stay on the machine, so later runs, CI's fresh clones included, skip this step.
"""

from __future__ import annotations

import os
import shutil
import subprocess

# The command each package brings, to tell whether it is there.
PACKAGES = {"podman": "podman", "runc": "runc", "mmdebstrap": "mmdebstrap"}


class ToolsUnavailable(RuntimeError):
    """The tools are missing and cannot be installed here; the message says why."""


def missing_packages() -> list[str]:
    return [package for package, command in PACKAGES.items() if shutil.which(command) is None]


def install_image_tools() -> None:
    """Installs the missing packages, or raises ToolsUnavailable where apt-get cannot run."""
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ToolsUnavailable(
            f"{', '.join(missing)}: installing them needs apt-get, as root "
            f"(this is uid {os.geteuid()})"
        )
    print(
        f"Installing {', '.join(missing)} with apt-get (once per machine): the image checks "
        "build the bridge's image from the Dockerfile and run it with them.",
        flush=True,
    )
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
    ):
        subprocess.run(command, env=environment, stdin=subprocess.DEVNULL, check=True)
    if still_missing := missing_packages():
        raise RuntimeError(f"apt-get ran, yet {', '.join(still_missing)} is not on PATH")
