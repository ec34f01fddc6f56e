"""Where podman is missing and cannot be installed (no root, no apt-get), `make test` still
passes: the build step says why and exits 0, and the image checks skip with that reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import container_image
from tests.support.podman import why_podman_cannot_run


def test_without_podman_the_reason_says_make_test_installs_it_as_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no podman on PATH

    reason = why_podman_cannot_run()

    assert reason is not None
    assert reason.startswith("podman is not installed; `make test` installs it")


def test_without_root_the_build_step_installs_nothing_and_says_the_checks_will_skip(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)

    assert container_image.main() == 0

    said = capsys.readouterr().out.splitlines()
    assert said == [
        "Not installed: podman, runc, mmdebstrap: installing them needs apt-get, as root "
        "(this is uid 1000).",
        "The image checks (tests/image/) will be skipped: podman is not installed; "
        "`make test` installs it (with apt-get) where it runs as root, as in CI.",
    ]
