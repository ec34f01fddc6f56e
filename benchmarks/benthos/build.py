"""Benthos, built once on first use into .cache/benthos/ from the Go module beside this file.

The binary is named by a digest of go.mod, go.sum and main.go, so an edit to them builds a
new one and an unchanged module is never rebuilt. Go's module and build caches live under
.cache/benthos/ too (`GOMODCACHE`, `GOCACHE`): the build touches nothing outside the
checkout, and deleting that directory undoes it. go.sum is complete, so the build reads the
module files and never rewrites them (`-mod=readonly`); `GOTOOLCHAIN=local` keeps Go from
fetching another toolchain.

    binary = ensure_built()   # the path of the binary; raises BenthosUnavailable
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

MODULE_DIR = Path(__file__).resolve().parent
MODULE_FILES = ("go.mod", "go.sum", "main.go")
CACHE_DIR = MODULE_DIR.parents[1] / ".cache" / "benthos"
VERSION = "4.27.0"  # go.mod's requirement; the binary says it with --version
_PROGRESS_EVERY_S = 60.0


class BenthosUnavailable(RuntimeError):
    """Benthos cannot be built on this machine; the message says why and what to do."""


def binary_path(cache_dir: Path = CACHE_DIR) -> Path:
    """Where the build of the module files as they are now goes."""
    digest = hashlib.sha256()
    for name in MODULE_FILES:
        digest.update((MODULE_DIR / name).read_bytes())
    return cache_dir / f"benthos-v{VERSION}-{digest.hexdigest()[:12]}"


def ensure_built(
    cache_dir: Path = CACHE_DIR,
    search_path: str | None = None,
    say: Callable[[str], None] | None = None,
) -> Path:
    """The binary, built first if it is not there yet. `search_path` is where `go` is looked
    for (default: PATH); `say` gets the progress lines (default: stderr)."""
    if say is None:
        say = _to_stderr
    binary = binary_path(cache_dir)
    if binary.exists():
        return binary
    go = shutil.which("go", path=search_path)
    if go is None:
        raise BenthosUnavailable(
            "Go is not installed (no `go` on PATH): install Go 1.21 or later to measure it"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    log_path = cache_dir / "build.log"
    partial = binary.with_name(binary.name + ".partial")
    say(f"building Benthos v{VERSION} once (a few minutes; its output goes to {log_path})…")
    began = time.monotonic()
    with log_path.open("wb") as log:
        build = subprocess.Popen(
            [go, "build", "-o", str(partial), "."],
            cwd=MODULE_DIR,
            env=_go_environment(cache_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        while True:
            try:
                exit_code = build.wait(timeout=_PROGRESS_EVERY_S)
                break
            except subprocess.TimeoutExpired:
                say(f"  still building Benthos ({(time.monotonic() - began) / 60:.0f} min)…")
    if exit_code != 0:
        partial.unlink(missing_ok=True)
        raise BenthosUnavailable(
            f"`go build` failed (exit {exit_code}): {_last_line(log_path)} "
            f"(the whole output is in {log_path}; without the Go module proxy, Benthos' "
            "modules cannot be downloaded)"
        )
    partial.replace(binary)  # a binary there is always a whole one
    say(f"built Benthos in {time.monotonic() - began:.0f} s: {binary}")
    return binary


def _go_environment(cache_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GOPATH": str(cache_dir / "gopath"),
        "GOMODCACHE": str(cache_dir / "gomod"),
        "GOCACHE": str(cache_dir / "gocache"),
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=readonly -buildvcs=false",
    }


def _last_line(log_path: Path) -> str:
    lines = log_path.read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(no output)"


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
