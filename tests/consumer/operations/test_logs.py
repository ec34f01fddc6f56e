"""The bridge's log setup: JSON lines, and aiokafka's per-heartbeat rebalance warnings left out."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest

from consumer.operations.logs import KeyHashes, configure_logging, never_log


@pytest.mark.usefixtures("restored_logging")
def test_rebalance_heartbeats_are_left_out_and_other_aiokafka_warnings_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    for _ in range(3):
        coordinator.warning("Heartbeat failed for group %s because it is rebalancing", "g")
    coordinator.warning("Heartbeat failed for group %s: generation id is not  current.", "g")
    logging.getLogger("consumer.bridge").info("revoking partitions")

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["message"] for line in lines] == [
        "Heartbeat failed for group g: generation id is not  current.",
        "revoking partitions",
    ]


@pytest.mark.usefixtures("restored_logging")
def test_a_secret_is_redacted_wherever_a_line_carries_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    password = 'p@ss"word\\with-quotes'
    key_line = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
    key = f"-----BEGIN PRIVATE KEY-----\n{key_line}\n-----END PRIVATE KEY-----\n"
    configure_logging("INFO", [password, key, "short"])
    never_log("token-fetched-later-0042")
    log = logging.getLogger("consumer.test")
    log.info("auth with %s", password)
    log.info("fields", extra={"fields": {"sent": f"x{password}x", "pem": key}})
    log.info("a token token-fetched-later-0042 in a message")
    log.error("failed", exc_info=ValueError(f"bad key line {key_line}"))
    log.info("short words stay short")

    text = capsys.readouterr().out
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["message"] == "auth with [redacted]"
    assert lines[1]["sent"] == "x[redacted]x"
    assert key_line not in text
    assert "token-fetched-later-0042" not in text
    assert "[redacted]" in lines[3]["exception"]
    assert lines[4]["message"] == "short words stay short", "values under 6 characters are kept"


@pytest.mark.usefixtures("restored_logging")
def test_at_debug_the_libraries_request_loggers_stay_at_info() -> None:
    configure_logging("DEBUG")
    assert logging.getLogger("consumer.bridge").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("aiokafka.consumer.fetcher").isEnabledFor(logging.DEBUG)
    for name in ("aiokafka.conn", "botocore.endpoint", "botocore.auth", "aiobotocore.endpoint"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name


def test_key_hashes_follow_a_key_within_a_deployment_and_need_its_secret() -> None:
    key = b"cust-482913"
    ours, again, other = KeyHashes("deployment-a"), KeyHashes("deployment-a"), KeyHashes("b")
    assert ours.of(key) == again.of(key), "equal keys hash alike in every task"
    assert ours.of(key) != ours.of(b"cust-482914")
    assert ours.of(key) != other.of(key)
    unkeyed = {hashlib.blake2b(key, digest_size=n).hexdigest() for n in (6, 8)}
    assert ours.of(key) not in unkeyed, "not computable without the secret"
    assert ours.of(None) is None
    secret, documented = "s3cret", hashlib.blake2b(key, key=b"s3cret", digest_size=8).hexdigest()
    assert KeyHashes(secret).of(key) == documented, "the recipe in the docs"


def test_without_a_secret_each_process_hashes_with_its_own_random_one() -> None:
    assert KeyHashes(None).of(b"k") != KeyHashes(None).of(b"k")
