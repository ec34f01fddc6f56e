"""requirements/install.py, which `make` runs: an install cut short is made again, never left.

Each test makes real virtualenvs with the real pip, installing small wheels made here from a
folder of their own (no index), and interrupts the script as a terminal's Ctrl-C does: SIGINT
to its whole process group, at the moment it says it starts a phase.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
INSTALL = PROJECT / "requirements" / "install.py"


def _wheel(folder: Path, name: str, version: str) -> None:
    """A pure-Python wheel whose module says its version: `<name>.VERSION`."""
    dist = f"{name}-{version}"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{path},,\n" for path in [*files, "RECORD"])
    with zipfile.ZipFile(folder / f"{dist}-py3-none-any.whl", "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    for name, version in [("probe", "1.0"), ("probe", "2.0"), ("extra", "1.0")]:
        _wheel(folder, name, version)
    return folder


@pytest.fixture
def environ(wheels: Path) -> dict[str, str]:
    return {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}


def _lock(tmp_path: Path, name: str, *pins: str) -> Path:
    lock = tmp_path / f"{name}.txt"
    lock.write_text("# a lock\n" + "".join(f"{pin}\n" for pin in pins))
    return lock


def _install(venv: Path, lock: Path, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(INSTALL), str(venv), str(lock)],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )


def _version_in(venv: Path, module: str) -> str:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import {module}; print({module}.VERSION)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_a_first_install_makes_the_virtualenv_installs_the_pins_and_puts_the_project_on_its_path(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    venv = tmp_path / "venv"
    done = _install(venv, _lock(tmp_path, "local", "probe==1.0"), environ)

    assert done.returncode == 0, done.stderr
    assert "Installing the 1 pinned packages" in done.stdout
    assert "Successfully installed probe-1.0" in done.stdout  # pip's own progress, not quieted
    assert _version_in(venv, "probe") == "1.0"
    on_path = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sys; print(sys.path)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert repr(str(PROJECT)) in on_path
    assert not (venv / "UNFINISHED").exists()
    assert (venv / ".installed-local").read_text() == "probe==1.0\n"


def test_a_set_that_is_in_returns_at_once_and_silent_as_does_a_set_a_wider_one_holds(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    venv = tmp_path / "venv"
    wide = _lock(tmp_path, "dev", "probe==1.0", "extra==1.0")
    assert _install(venv, wide, environ).returncode == 0

    again = _install(venv, wide, environ)
    narrow = _install(venv, _lock(tmp_path, "local", "probe==1.0"), environ)

    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert (narrow.returncode, narrow.stdout, narrow.stderr) == (0, "", "")


def test_a_set_installed_at_other_versions_is_no_longer_in_and_is_installed_again(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    venv = tmp_path / "venv"
    dev = _lock(tmp_path, "dev", "probe==1.0", "extra==1.0")
    assert _install(venv, dev, environ).returncode == 0
    assert _install(venv, _lock(tmp_path, "other", "probe==2.0"), environ).returncode == 0

    again = _install(venv, dev, environ)

    assert "Installing the 2 pinned packages" in again.stdout
    assert _version_in(venv, "probe") == "1.0"


@pytest.mark.parametrize("phase", ["Making the virtualenv", "Installing the"])
def test_an_install_interrupted_by_ctrl_c_is_made_again_by_the_next_run(
    tmp_path: Path, environ: dict[str, str], phase: str
) -> None:
    venv, lock = tmp_path / "venv", _lock(tmp_path, "local", "probe==1.0")
    first = subprocess.Popen(
        [sys.executable, str(INSTALL), str(venv), str(lock)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert first.stdout is not None
    for line in first.stdout:
        if line.startswith(phase):
            os.killpg(first.pid, signal.SIGINT)
            break
    _, said = first.communicate(timeout=60)

    assert first.returncode == 130
    assert said.strip() == (
        f"install: interrupted; {venv}/ is unfinished and the next make starts it again"
    )
    assert not (venv / ".installed-local").exists()

    second = _install(venv, lock, environ)

    assert second.returncode == 0, second.stderr
    assert f"{venv}/ was left unfinished by an interrupted install: making it again." in (
        second.stdout
    )
    assert _version_in(venv, "probe") == "1.0"
    assert not (tmp_path / "venv.removing").exists()


def test_a_removal_cut_short_is_finished_by_the_next_run(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    """An unfinished .venv is moved aside before it is removed; Ctrl-C can land in between."""
    venv, lock = tmp_path / "venv", _lock(tmp_path, "local", "probe==1.0")
    assert _install(venv, lock, environ).returncode == 0
    (tmp_path / "venv.removing" / "lib").mkdir(parents=True)

    assert _install(venv, lock, environ).returncode == 0

    assert not (tmp_path / "venv.removing").exists()
    assert _version_in(venv, "probe") == "1.0"


def test_a_virtualenv_left_without_pip_is_made_again(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    """What an interrupted `python3 -m venv` used to leave: every later make stopped at pip."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)

    done = _install(venv, _lock(tmp_path, "local", "probe==1.0"), environ)

    assert done.returncode == 0, done.stderr
    assert "was left unfinished" in done.stdout
    assert _version_in(venv, "probe") == "1.0"


def test_a_pin_pip_cannot_install_is_one_line_and_the_fixed_lock_then_installs(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    venv = tmp_path / "venv"
    failed = _install(venv, _lock(tmp_path, "local", "probe==9.9"), environ)

    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == (
        f"install: pip could not install {tmp_path / 'local.txt'} (its message is above); "
        "run the same make command again"
    )
    assert "Traceback" not in failed.stderr
    assert _install(venv, _lock(tmp_path, "local", "probe==2.0"), environ).returncode == 0
    assert _version_in(venv, "probe") == "2.0"
