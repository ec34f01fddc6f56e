"""The lines a local run ends with: each number defined once, in words that fit the run."""

from __future__ import annotations

from dataclasses import replace

from consumer.local.summary import RunSummary, records_per_s, summary_lines

RUN = RunSummary(
    drained=True,
    wall_s=6.1,
    produced=2000,
    delivered=1999,
    dead_lettered=1,
    duplicates=0,
    function_errors=1,
    retries=6,
    throttles=0,
    delivering_s=3.0,
)


def row(lines: list[str], name: str) -> str:
    [found] = [line for line in lines if line.strip().startswith(name)]
    return found


def test_the_rate_is_over_the_time_records_were_being_done() -> None:
    """Not over the run's start-up too: that made it half the progress line's."""
    head = summary_lines(RUN)[0]
    assert head == (
        "drained after 6.1 s: 2,000 records done of 2,000 produced, 667 records/s while delivering"
    )


def test_a_run_too_short_to_measure_gives_no_rate_and_counts_in_the_singular() -> None:
    tiny = replace(RUN, produced=1, delivered=1, dead_lettered=0, delivering_s=0.2)
    assert summary_lines(tiny)[0] == "drained after 6.1 s: 1 record done of 1 produced"


def test_the_function_errors_say_what_the_failure_mode_did() -> None:
    assert "split to find the failing records" in row(summary_lines(RUN), "function errors")
    stalled = replace(RUN, splits_failures=False)
    note = row(summary_lines(stalled), "function errors")
    assert "split" not in note
    assert "retried until the function takes them (stall)" in note
    assert row(summary_lines(replace(RUN, function_errors=0)), "function errors").endswith("0")


def test_unknown_duplicates_say_why() -> None:
    unknown = replace(RUN, duplicates=None)
    assert row(summary_lines(unknown), "duplicates").split() == [
        "duplicates",
        "unknown",
        "PAYLOAD_FORMAT=value:",
        "a",
        "payload",
        "names",
        "no",
        "record",
    ]


def test_one_rate_for_the_live_line_and_the_summary_and_none_from_too_little() -> None:
    assert records_per_s(1_000, 2.0) == 500.0
    assert records_per_s(3, 0.1) is None  # "0 records/s for 3 records", no more
    assert records_per_s(0, 0.0) is None
