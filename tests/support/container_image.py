"""The bridge's image, built with podman from the project's Dockerfile, for tests/image/.

`python -m tests.support.container_image` (`make image`, which `make test` runs first)
installs the tools where it can (tests/support/image_tools.py), gets the base (the real one,
or its stand-in: tests/support/stand_in_base.py) and builds the image. Where podman cannot
run it says why and exits 0: the image checks then skip with that reason. podman's storage,
outside the clone, keeps the base and the build's layers, so a later build reuses them.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

from tests.support.image_tools import ToolsUnavailable, install_image_tools
from tests.support.podman import PodmanError, podman, why_podman_cannot_run
from tests.support.stand_in_base import StandInUnavailable, ensure_base

REPO = Path(__file__).resolve().parents[2]
IMAGE = "localhost/kafka-to-lambda:image-check"
BUILD_TIMEOUT_S = 900


class ImageUnavailable(RuntimeError):
    """The image cannot be built here (no podman, no root); the message says why."""


def _image_id() -> str | None:
    try:
        return podman("image", "inspect", "--format", "{{.Id}}", IMAGE).strip()
    except PodmanError:
        return None


def ensure_image() -> str:
    """Builds IMAGE from the Dockerfile and the working tree (cached layers make a build
    with nothing changed take seconds) and returns its name."""
    if (reason := why_podman_cannot_run()) is not None:
        raise ImageUnavailable(reason)
    try:
        ensure_base()
    except StandInUnavailable as unavailable:
        raise ImageUnavailable(str(unavailable)) from unavailable
    previous = _image_id()
    print(f"Building {IMAGE} from the Dockerfile with podman...", flush=True)
    started = time.monotonic()
    podman(
        "build",
        "--format=docker",  # podman's own format drops HEALTHCHECK
        "--pull=never",  # the base is in storage: the real one or its stand-in
        "--tag",
        IMAGE,
        str(REPO),
        timeout_s=BUILD_TIMEOUT_S,
        show_output=True,
    )
    if previous not in (None, _image_id()):
        # The former build, untagged now: removed so that storage holds one image, not one
        # per change (its layers that the new build shares stay). In use, it stays.
        with contextlib.suppress(PodmanError):
            podman("rmi", previous)
    print(f"Built {IMAGE} in {time.monotonic() - started:.0f} s.", flush=True)
    return IMAGE


def main() -> int:
    try:
        install_image_tools()
    except ToolsUnavailable as unavailable:
        print(f"Not installed: {unavailable}.", flush=True)
    try:
        ensure_image()
    except ImageUnavailable as unavailable:
        print(f"The image checks (tests/image/) will be skipped: {unavailable}.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
