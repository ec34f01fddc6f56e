"""Every entry point answers `--help` with what it does and the settings it reads, and runs
nothing; an argument it does not take is refused in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from consumer.settings.model import DECLARATIONS
from tests.support.bridge_harness import REPO


def run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *arguments],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},  # no settings at all
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("entry_point", "bootstrap_servers"),
    [
        ("consumer", "required"),
        ("consumer.redrive", "required with a kafka:// DLQ"),  # S3 and files need no Kafka
    ],
)
def test_help_lists_every_setting_and_runs_nothing(
    entry_point: str, bootstrap_servers: str
) -> None:
    answer = run(entry_point, "--help")
    assert answer.returncode == 0, answer.stderr
    assert answer.stderr == ""
    for declaration in DECLARATIONS:
        assert f"  {declaration.env} (" in answer.stdout, declaration.env
    assert f"  KAFKA_BOOTSTRAP_SERVERS ({bootstrap_servers})" in answer.stdout
    assert "  KAFKA_PASSWORD (optional, secret)" in answer.stdout
    assert max(len(line) for line in answer.stdout.splitlines()) <= 100


def test_the_bridge_s_help_gives_its_exit_codes() -> None:
    answer = run("consumer", "--help")
    assert "exit codes: 0 after a clean drain" in answer.stdout
    assert "2 bad settings; 3 Kafka" in answer.stdout


def test_the_health_check_s_help_runs_no_check() -> None:
    answer = run("consumer.health", "--help")
    assert answer.returncode == 0
    assert "HEALTH_FILE" in answer.stdout
    assert "unhealthy" not in answer.stdout  # the check did not run


def test_an_argument_the_bridge_does_not_take_is_refused_in_one_line() -> None:
    answer = run("consumer", "--topic", "x")
    assert answer.returncode == 2
    assert answer.stdout == ""
    assert answer.stderr.splitlines()[-1] == (
        "python -m consumer: error: unrecognized arguments: --topic x"
    )
    assert "Traceback" not in answer.stderr


@pytest.mark.parametrize(
    ("moment", "said"),
    [
        ("yesterday", "'yesterday' is not an ISO-8601 time: write e.g. 2026-12-01T09:00:00Z"),
        ("2026-12-01T09:00", "'2026-12-01T09:00' needs a time zone, e.g. 2026-12-01T09:00Z"),
    ],
)
def test_a_redrive_time_it_cannot_read_is_refused_in_the_user_s_words(
    moment: str, said: str
) -> None:
    answer = run("consumer.redrive", "--since", moment)
    assert answer.returncode == 2
    assert answer.stderr.splitlines()[-1] == (
        f"python -m consumer.redrive: error: argument --since: {said}"
    )


def test_redrive_without_dlq_says_so_first() -> None:
    answer = run("consumer.redrive")  # no settings at all: DLQ is what it names
    assert answer.returncode == 2
    [line] = [line for line in (answer.stdout + answer.stderr).splitlines() if line.strip()]
    assert "DLQ is not set: redrive reads the dead letters it names" in line
    assert "an SQS queue, or an SNS topic through --from-queue" in line
    assert "KAFKA_BOOTSTRAP_SERVERS" not in line
