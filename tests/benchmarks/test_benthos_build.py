"""Benthos built on first use: never rebuilt while the module is unchanged, and without Go
the benchmarks say so in one line and run every other contender."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest

from benchmarks.__main__ import with_benthos_built
from benchmarks.benthos.build import BenthosUnavailable, binary_path, ensure_built
from benchmarks.scenarios import QUICK, scenarios


def test_the_binary_is_named_by_the_module_files_so_an_edit_builds_a_new_one(
    tmp_path: Path,
) -> None:
    path = binary_path(tmp_path)
    assert path.parent == tmp_path
    assert path.name.startswith("benthos-v4.27.0-")
    assert binary_path(tmp_path) == path


def test_a_built_binary_is_used_as_it_is_without_go(tmp_path: Path) -> None:
    built = binary_path(tmp_path)
    built.write_bytes(b"")
    lines: list[str] = []
    assert ensure_built(tmp_path, search_path=str(tmp_path), say=lines.append) == built
    assert lines == []


def test_without_go_the_build_says_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(BenthosUnavailable, match="Go is not installed"):
        ensure_built(tmp_path / "cache", search_path=str(tmp_path), say=print)


@pytest.mark.skipif(shutil.which("go") is None, reason="Go is not installed here")
def test_a_failed_build_names_its_last_line_and_leaves_no_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real Go, with the module proxy switched off and an empty module cache: the build
    # fails at once, as it does where the proxy cannot be reached.
    monkeypatch.setenv("GOPROXY", "off")
    cache = tmp_path / "cache"
    lines: list[str] = []
    with pytest.raises(BenthosUnavailable, match=r"failed \(exit 1\): .*GOPROXY=off"):
        ensure_built(cache, say=lines.append)
    assert lines[0].startswith("building Benthos v4.27.0 once")
    assert not binary_path(cache).exists()


def test_without_go_benthos_is_left_out_in_one_line_and_the_rest_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = scenarios(("S1", "S4"), QUICK)
    no_go = functools.partial(ensure_built, tmp_path / "cache", search_path=str(tmp_path))
    kept = with_benthos_built(chosen, build=no_go)
    assert [s.contenders for s in kept] == [
        ("bridge", "bridge-legacy", "sequential", "fire-and-forget"),
        ("bridge", "bridge-legacy", "fire-and-forget"),
    ]
    said = capsys.readouterr().err.splitlines()
    assert len(said) == 1
    assert said[0].startswith("Benthos is not measured: Go is not installed")


def test_scenarios_without_benthos_need_no_build(tmp_path: Path) -> None:
    chosen = scenarios(("S3",), QUICK)

    def never() -> Path:
        raise AssertionError("built without need")

    assert with_benthos_built(chosen, build=never) == chosen
