"""The delivery settings: ordering, concurrency, batches, buffers, commits, retries, stops.
A group of fields of `BridgeSettings` (model.py)."""

from __future__ import annotations

from pydantic import BaseModel

from consumer.settings.backoff import Backoff
from consumer.settings.declarations import setting
from consumer.settings.ordering import Ordering


class DeliverySettings(BaseModel):
    """How records travel from the lanes to the function, and how often they are retried."""

    ordering: Ordering = setting(
        Ordering.key,
        doc="`key`, `partition` (strict, one batch at a time) or `none`.",
        stack="ordering",
    )
    max_in_flight_per_partition: int = setting(
        2,
        ge=1,
        le=1000,
        doc="Invocations in flight per partition.",
        stack="maxInFlightPerPartition",
    )
    max_in_flight_total: int = setting(
        100,
        ge=1,
        le=10_000,
        doc="Invocations in flight over all partitions.",
        stack="maxInFlightTotal",
    )
    batch_size: int = setting(
        100, ge=1, le=10_000, doc="Records per invocation, at most.", stack="batchSize"
    )
    batch_max_bytes: int | None = setting(
        None,
        ge=1024,
        doc="Payload bytes per invocation, at most. Default: Lambda's request limit.",
        stack="batchMaxBytes",
    )
    batch_window_ms: int = setting(
        0,
        ge=0,
        le=300_000,
        doc="How long to wait to fill a batch (0: never wait).",
        stack="batchWindowMs",
    )
    commit_interval_ms: int = setting(
        1000,
        ge=10,
        le=600_000,
        doc="How often delivered offsets are committed.",
        stack="commitIntervalMs",
    )
    max_buffered_records_per_partition: int = setting(
        1000,
        ge=1,
        doc="Fetched records held per partition before fetching pauses.",
        stack="maxBufferedRecordsPerPartition",
    )
    max_buffered_bytes_per_partition: int = setting(
        4 * 1024 * 1024,
        ge=1024,
        doc="Fetched bytes held per partition before fetching pauses.",
        stack="maxBufferedBytesPerPartition",
    )
    max_retries: int = setting(
        3, ge=0, le=1000, doc="Retries of a batch the function failed.", stack="maxRetries"
    )
    retry_backoff_base_ms: int = setting(
        100,
        ge=1,
        doc="First retry delay (doubles each time, full jitter).",
        stack="retryBackoffBaseMs",
    )
    retry_backoff_max_ms: int = setting(
        20_000, ge=1, doc="Longest retry delay.", stack="retryBackoffMaxMs"
    )
    retry_function_errors_for_seconds: int = setting(
        300,
        ge=0,
        le=86_400,
        doc=(
            "How long a batch the function fails is retried (and at least `MAX_RETRIES` "
            "times) before it is split and what still fails is dead-lettered: a burst of "
            "errors shorter than this dead-letters nothing."
        ),
        stack="retryFunctionErrorsForSeconds",
    )
    function_error_backoff_max_ms: int = setting(
        2_000,
        ge=1,
        doc=(
            "Longest delay between retries of a batch the function failed: a function that "
            "heals gets its records this soon."
        ),
        stack="functionErrorBackoffMaxMs",
    )
    shutdown_timeout_seconds: float = setting(
        30.0,
        ge=0,
        le=110,
        doc=(
            "The whole stop on SIGTERM: finishing the invocations in flight, the last commit, "
            "leaving the group (on ECS the task's stop timeout is 10 s above it)."
        ),
        stack="shutdownTimeoutSeconds",
    )
    revoke_timeout_ms: int = setting(
        10_000,
        ge=0,
        le=900_000,
        doc=(
            "How long an invocation may run, for its partition's lease, when the function's "
            "timeout cannot be read (otherwise that timeout and 5 s)."
        ),
        stack="revokeTimeoutMs",
    )
    clock_skew_margin_ms: int = setting(
        1000,
        ge=0,
        le=60_000,
        doc=(
            "How far apart the members' clocks may be: a partition's new owner waits this "
            "long past its previous owner's lease."
        ),
        stack="clockSkewMarginMs",
    )

    @property
    def retry_backoff(self) -> Backoff:
        """The one retry policy, as RETRY_BACKOFF_BASE_MS and RETRY_BACKOFF_MAX_MS set it."""
        return Backoff(self.retry_backoff_base_ms / 1000, self.retry_backoff_max_ms / 1000)

    @property
    def function_error_backoff(self) -> Backoff:
        """The same policy for the function's own errors, capped lower: a function that
        failed for a while is tried again soon after it heals."""
        cap_ms = min(self.retry_backoff_max_ms, self.function_error_backoff_max_ms)
        return Backoff(self.retry_backoff_base_ms / 1000, cap_ms / 1000)
