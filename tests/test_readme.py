"""The README's first screen gives exactly two set-up commands, and CI runs the second."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIRST_SCREEN_LINES = 40


def _set_up_commands() -> list[str]:
    first_screen = "\n".join((REPO / "README.md").read_text().splitlines()[:FIRST_SCREEN_LINES])
    blocks = re.findall(r"```sh\n(.*?)```", first_screen, re.DOTALL)
    assert len(blocks) == 1, f"{len(blocks)} shell blocks on the README's first screen, not one"
    return [line.split("#")[0].strip() for line in blocks[0].splitlines() if line.strip()]


def test_first_screen_has_exactly_two_commands_run_locally_and_run_tests() -> None:
    assert _set_up_commands() == ["make local", "make test"]


def test_ci_runs_the_readmes_test_command_and_nothing_else() -> None:
    script = [
        line.strip()
        for line in (REPO / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert script[-1] == _set_up_commands()[1]
    assert all(line.startswith(("set ", "cd ")) for line in script[:-1]), script
