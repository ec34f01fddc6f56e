"""Makes the project's virtualenv and installs one pinned set of requirements/ into it.

    python3 requirements/install.py VENV REQUIREMENTS      (the Makefile runs it)

An install cut short at any point (Ctrl-C during the first `make local`, a lost network)
is redone by the next run, never left half made: a virtualenv without pip used to stop
every later `make` with `.venv/bin/pip: No such file or directory`.

Invariants:
- VENV holds UNFINISHED from before this script first changes it until the set is in.
  A VENV that holds UNFINISHED, or whose python cannot run pip, is never trusted: it is
  moved aside, removed, and made again.
- A set's stamp (VENV/.installed-<name>) is written last, so a stamp means its set is in.
- A set is in when its stamp is newer than its lock, or when another set that is in pins
  every one of its pins (dev.txt holds local.txt): then this script returns at once, silent.
  Installing a set removes the stamps of the sets it installed other versions for.
- The project is on the virtualenv's path (a .pth file), so `VENV/bin/python -m consumer.local`
  runs from any directory, a handler path then being relative to where it runs.

Standard library only: it runs on the machine's python3, before any virtualenv exists.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

MINIMUM_PYTHON = (3, 11)  # the locks are resolved for 3.11
UNFINISHED = "UNFINISHED"
PROJECT = Path(__file__).resolve().parents[1]
RERUN = "run the same make command again"


class InstallFailed(Exception):
    """One line a person can act on."""


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python3 requirements/install.py VENV REQUIREMENTS", file=sys.stderr)
        return 2
    venv, lock = Path(argv[0]), Path(argv[1])
    try:
        install(venv, lock)
    except InstallFailed as failure:
        print(f"install: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"\ninstall: interrupted; {venv}/ is unfinished and the next make starts it again",
            file=sys.stderr,
        )
        return 130
    return 0


def install(venv: Path, lock: Path) -> None:
    if sys.version_info < MINIMUM_PYTHON:
        raise InstallFailed(
            f"{sys.executable} is Python {sys.version.split()[0]} and the project needs 3.11 or "
            f"newer: name one, e.g. make local PYTHON=python3.12"
        )
    pins = read_pins(lock)
    shutil.rmtree(aside_of(venv), ignore_errors=True)  # a removal cut short, finished
    if is_in(venv, lock, pins):
        return
    if venv.exists() and not is_sound(venv):
        print(
            f"{venv}/ was left unfinished by an interrupted install: making it again.", flush=True
        )
        remove(venv)
    made_now = not venv.exists()
    venv.mkdir(exist_ok=True)
    (venv / UNFINISHED).write_text("an install is running or was cut short\n")
    if made_now:
        make_virtualenv(venv)
    print(
        f"Installing the {len(pins)} pinned packages of {lock} into {venv}/ "
        f"(once; again when the pins change):",
        flush=True,
    )
    pip = [str(python_of(venv)), "-m", "pip", "install", "--no-deps", "--progress-bar", "on"]
    if run([*pip, "-r", str(lock)]).returncode != 0:
        raise InstallFailed(f"pip could not install {lock} (its message is above); {RERUN}")
    put_project_on_path(venv)
    drop_stamps_contradicted_by(venv, pins)
    (venv / UNFINISHED).unlink()
    stamp_of(venv, lock).write_text("".join(f"{pin}\n" for pin in sorted(pins)))


def read_pins(lock: Path) -> set[str]:
    """The `name==version` lines of a lock (lock.sh writes them, one a line)."""
    lines = (raw.split("#", 1)[0].strip() for raw in lock.read_text().splitlines())
    return {line for line in lines if line}


def name_of(pin: str) -> str:
    return pin.split("==", 1)[0].strip().lower()


def is_in(venv: Path, lock: Path, pins: set[str]) -> bool:
    if (venv / UNFINISHED).exists():
        return False
    stamp = stamp_of(venv, lock)
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return True
    # A stamp lists the pins its set installed: a wider set that is in holds this one.
    return any(pins <= set(other.read_text().splitlines()) for other in venv.glob(".installed-*"))


def drop_stamps_contradicted_by(venv: Path, pins: set[str]) -> None:
    """A set whose package was just installed at another version is no longer in."""
    installed = {name_of(pin): pin for pin in pins}
    for other in venv.glob(".installed-*"):
        other_pins = other.read_text().splitlines()
        if any(installed.get(name_of(pin), pin) != pin for pin in other_pins):
            other.unlink()


def is_sound(venv: Path) -> bool:
    if (venv / UNFINISHED).exists() or not python_of(venv).exists():
        return False
    pip_runs = subprocess.run(
        [str(python_of(venv)), "-m", "pip", "--version"], capture_output=True, check=False
    )
    return pip_runs.returncode == 0


def remove(venv: Path) -> None:
    # Moved aside first: a removal cut short then leaves nothing at VENV to be mistaken for it.
    aside = aside_of(venv)
    venv.rename(aside)
    shutil.rmtree(aside)


def aside_of(venv: Path) -> Path:
    return venv.with_name(f"{venv.name}.removing")


def make_virtualenv(venv: Path) -> None:
    print(f"Making the virtualenv {venv}/ with Python {sys.version.split()[0]}.", flush=True)
    made = run([sys.executable, "-m", "venv", str(venv)])
    if made.returncode != 0:
        raise InstallFailed(
            f"{sys.executable} -m venv failed (its message is above); on Debian and Ubuntu it "
            f"needs the python3-venv package (apt-get install python3-venv), then {RERUN}"
        )


def run(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Ctrl-C reaches this script alone, which kills the command: no child's traceback shows."""

    def ignore_interrupts() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.run(command, check=False, preexec_fn=ignore_interrupts)


def put_project_on_path(venv: Path) -> None:
    purelib = subprocess.run(
        [str(python_of(venv)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "kafka-to-lambda.pth").write_text(f"{PROJECT}\n")


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def stamp_of(venv: Path, lock: Path) -> Path:
    return venv / f".installed-{lock.stem}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
