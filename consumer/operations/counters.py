"""What the bridge has done since it started: read by tests, the local mode and metrics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Counters:
    records_fetched: int = 0
    records_delivered: int = 0  # delivered or dead-lettered: done, as the offsets see it
    # The function returned success for them, counted as each invocation answers (a batch's
    # records_delivered waits for its last record, which a bisection may take a while on).
    records_accepted: int = 0
    records_filtered: int = 0  # matched no filter pattern: done without an invocation
    # Done by the partition's previous owner above its committed offset: not delivered again.
    records_done_before: int = 0
    lease_waits: int = 0  # partitions taken over that waited for their previous owner's lease
    invocations: int = 0
    function_errors: int = 0
    throttles: int = 0
    retries: int = 0
    dead_lettered: int = 0
    dead_letter_write_failures: int = 0
    claim_checks_stored: int = 0  # records too large for an invocation, stored in S3
    claim_check_write_failures: int = 0  # failed stores, each retried
    answers_produced: int = 0  # records produced to RESPONSE_TOPIC and acknowledged
    answer_produce_failures: int = 0  # failed produces to RESPONSE_TOPIC (each retried)
    answers_unsplit: int = 0  # answers whose per-record results could not be split
    errors_produced: int = 0  # function errors produced to ERROR_TOPIC
    error_produce_failures: int = 0  # function errors ERROR_TOPIC did not take (given up)
    commits: int = 0
    pauses: int = 0  # times a partition's fetching paused because its lane was full
    peak_buffered_records: int = 0  # the most records one lane has held at once
