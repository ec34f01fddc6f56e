"""`--baseline REF`: an earlier commit's bridge, measured beside this one in the same run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from benchmarks.baseline_commit import (
    BaselineUnavailable,
    baseline_contender,
    extracted,
    from_source,
    resolved,
    with_baseline,
)
from benchmarks.contenders import Contender
from benchmarks.run import run_tag
from benchmarks.scenarios import QUICK, scenarios
from tests.support.kafka_fixtures import KafkaUnderTest

REPO = Path(__file__).resolve().parents[2]


def test_a_ref_resolves_to_its_commit_and_an_unknown_one_is_refused() -> None:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    assert resolved(REPO, "HEAD") == head
    with pytest.raises(BaselineUnavailable, match="--baseline no-such-ref: not a commit"):
        resolved(REPO, "no-such-ref")


def test_the_commits_consumer_is_extracted_and_runs_as_the_bridge(tmp_path: Path) -> None:
    commit = resolved(REPO, "HEAD")
    source = extracted(REPO, commit, tmp_path)
    tracked = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", commit, "consumer"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()) == sorted(
        tracked
    )
    contender = baseline_contender(commit, source)
    assert contender.name == f"bridge@{commit}"
    command = contender.command(scenarios(("S1",), QUICK)[0], {}, tmp_path / "files")
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "KAFKA_BOOTSTRAP_SERVERS" in done.stdout


def test_the_baseline_is_imported_from_its_source_not_from_this_checkout(tmp_path: Path) -> None:
    (tmp_path / "consumer").mkdir()
    (tmp_path / "consumer" / "__init__.py").write_text("")
    (tmp_path / "consumer" / "__main__.py").write_text("import consumer; print(consumer.__file__)")
    command = from_source(tmp_path)(scenarios(("S1",), QUICK)[0], {}, tmp_path / "files")
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "consumer" / "__init__.py")


def test_the_baseline_runs_right_after_the_bridge_and_not_in_membership_changes() -> None:
    made = with_baseline(scenarios(("S1", "S2", "S8", "S9"), QUICK), "bridge@abc1234")
    contenders = {s.name: s.contenders for s in made}
    assert contenders["S1"][:3] == ("bridge", "bridge@abc1234", "bridge-legacy")
    assert contenders["S2"][:2] == ("bridge", "bridge@abc1234")
    assert contenders["S9"] == ("bridge", "bridge@abc1234", "bridge+answers")
    assert "bridge@abc1234" not in contenders["S8"]


@pytest.mark.parametrize("name", ["bridge", "bridge+answers", "bridge@0f8bf59", "bridge@v1.2_x"])
def test_a_runs_tag_holds_only_what_kafka_topics_and_lambda_names_take(name: str) -> None:
    scenario = scenarios(("S1",), QUICK)[0]
    tag = run_tag(scenario, Contender(name, lambda _run: ["true"], "a stand-in"))
    assert re.fullmatch("[A-Za-z0-9-]+", tag), tag
    assert tag.startswith(f"{scenario.slug}-bridge")


async def test_a_topic_the_broker_refuses_is_an_error_at_once_not_a_wait(
    kafka: KafkaUnderTest,
) -> None:
    with pytest.raises(ValueError, match="the broker refused topic 'bench-S1-bridge@0f8bf59'"):
        await kafka.create_topic("bench-S1-bridge@0f8bf59")
