"""The command line: its options, the checks made before anything starts, and the local-mode
page's table of options, which must name every one."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from consumer.local.cli import parse_options, parser

LOCAL_MODE_PAGE = Path(__file__).resolve().parents[3] / "docs" / "local-mode.md"


def test_the_options_table_of_the_local_mode_page_names_every_option_and_no_other() -> None:
    section = LOCAL_MODE_PAGE.read_text().split("\n## Options\n", 1)[1].split("\n## ", 1)[0]
    in_page = set(re.findall(r"^\| `(--[a-z-]+)", section, re.MULTILINE))
    options = {o for action in parser()._actions for o in action.option_strings} - {"-h", "--help"}
    assert in_page == options


def test_the_function_is_named_after_the_handler_file_or_module() -> None:
    assert parse_options([]).function_name == "native_handler"
    assert parse_options(["--handler", "fns/orders.v2.py:go"]).function_name == "orders-v2"
    assert parse_options(["--handler", "pkg.handlers:handle"]).function_name == "handlers"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--produce", "5", "--from-file", "x.jsonl"], "choose one source of records"),
        (["--produce", "5", "--poison", "6"], "at most --produce records"),
        (["--lambda-port", "70000"], "is not a port"),
        (["--record-bytes", "40000000"], "the local mode produces records up to 33,554,432"),
    ],
)
def test_contradictory_options_are_refused_before_anything_starts(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_options(arguments)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_without_handler_the_example_follows_the_payload_format() -> None:
    default = parse_options([])
    assert default.for_payload_format("native").function_name == "native_handler"
    assert default.for_payload_format("").function_name == "native_handler"
    legacy = default.for_payload_format("legacy")
    assert (legacy.function_name, legacy.handler) == (
        "legacy_handler",
        "examples/legacy_handler.py:handler",
    )
    assert legacy.handler_spec.endswith("/examples/legacy_handler.py:handler")
    assert default.for_payload_format("value").function_name == "value_handler"
    mine = parse_options(["--handler", "src/orders.py:handle"])
    assert mine.for_payload_format("value").handler == "src/orders.py:handle"


def test_the_function_timeout_is_lambda_s_default_or_what_is_asked_within_lambda_s_range(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert parse_options([]).function_timeout_s == 3.0
    assert parse_options(["--function-timeout", "30"]).function_timeout_s == 30.0
    for wrong, said in [("0", "0 s: Lambda's timeout is 1 to 900 s"), ("soon", "'soon' is not")]:
        with pytest.raises(SystemExit) as refused:
            parse_options(["--function-timeout", wrong])
        assert refused.value.code == 2
        assert said in capsys.readouterr().err


def test_the_local_mode_runs_from_any_directory(tmp_path: Path) -> None:
    """`make` puts the project on the environment's path: a user's own project directory is
    where they run it from, and where their handler path starts."""
    answer = subprocess.run(
        [sys.executable, "-m", "consumer.local", "--help"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},  # no PYTHONPATH
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.startswith("usage: python -m consumer.local")
