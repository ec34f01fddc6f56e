"""Delivering one batch: invoke, classify the answer, produce it, retry, bisect, dead-letter.

`deliver(batch)` returns once every record of the batch was either delivered (the function
returned without error for it, and with RESPONSE_TOPIC its answer was produced and
acknowledged: consumer/answers/) or dead-lettered (durably written with its error) — the two
ways a record is done. Until then it keeps trying (a failed answer produce too, with backoff,
never by invoking again; function errors go to ERROR_TOPIC best effort, never holding it up);
it raises only for a fatal invoke error, or `LetGo` once the bridge lets the batch's
partition go (`let_go`): from then on no invocation of it starts, retries included, and a
retry (or answer produce) waiting out its backoff gives up at once; the records are not done,
and their partition's next owner delivers (and answers) them.

A claim-check batch (one record too large for an invocation) has its record stored first
(consumer/payloads/claim_checks.py), then is delivered like any other.

No invocation starts outside the partition's lease (consumer/ownership/leases.py): each
waits, if it must, for a longer one, and is let go if its partition is let go meanwhile —
while it waited for the lease or for a permit of the in-flight limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Sequence

from aiokafka.structs import TopicPartition

from consumer.answers.answering import Answering
from consumer.aws_lambda.answers import InvokeResult, Outcome
from consumer.aws_lambda.concurrency import AdaptiveLimit
from consumer.aws_lambda.invoker import LambdaInvoker
from consumer.errors import FatalInvokeError
from consumer.failures.dead_letters import DeadLetter, DeadLetterSink
from consumer.operations.counters import Counters
from consumer.operations.logs import KeyHashes
from consumer.operations.metrics import MetricsEmitter
from consumer.ownership.leases import Leases
from consumer.payloads.claim_checks import ClaimChecks
from consumer.records import Batch, RecordEncoder, as_fetched
from consumer.settings.failures import OnFailure
from consumer.settings.model import BridgeSettings
from consumer.settings.ordering import Ordering

log = logging.getLogger("consumer.delivery")
# One line per record dead-lettered; the local mode's summary says them instead.
DEAD_LETTERED = "record dead-lettered"


class LetGo(Exception):
    """The batch's partition is being let go: nothing more is invoked for it."""


def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


class Delivery:
    def __init__(
        self,
        settings: BridgeSettings,
        invoker: LambdaInvoker,
        encoder: RecordEncoder,
        counters: Counters,
        metrics: MetricsEmitter,
        leases: Leases,
    ) -> None:
        self._settings = settings
        self._leases = leases
        self._invoker = invoker
        self._encoder = encoder
        self._counters = counters
        self._metrics = metrics
        self.dead_letters: DeadLetterSink | None = None  # set once opened
        self.claim_checks: ClaimChecks | None = None  # set once opened, with LARGE_RECORDS
        self.answering = Answering(settings, counters)  # set once opened (its topics)
        self._mode = settings.failure_mode
        self.limit = AdaptiveLimit(settings.max_in_flight_total)
        self._backoff = settings.retry_backoff
        self._function_error_backoff = settings.function_error_backoff
        secret = settings.key_hash_secret
        self._key_hashes = KeyHashes(None if secret is None else secret.get_secret_value())
        # (topic, partition) → set once it is being let go; waited on by backoff sleeps.
        self._letting_go: dict[tuple[str, int], asyncio.Event] = {}

    def let_go(self, topic: str, partition: int) -> None:
        """No more invocations for the partition's batches; their backoff sleeps end now."""
        self._letting_go.setdefault((topic, partition), asyncio.Event()).set()

    def take_back(self, topic: str, partition: int) -> None:
        """The partition is this bridge's again (assigned anew): its batches may invoke."""
        self._letting_go.pop((topic, partition), None)

    async def deliver(self, batch: Batch) -> None:
        if batch.claim_check:
            await self._check_in(batch)
        if batch.undeliverable is not None:
            await self._give_up(batch, [0], "Undeliverable", batch.undeliverable, attempts=0)
            return
        await self._deliver_part(
            batch, list(range(len(batch.records))), self._settings.max_retries, time.time(), 0
        )

    async def _check_in(self, batch: Batch) -> None:
        """Stores the batch's record and gives it its claim check (or an undeliverable reason)."""
        assert self.claim_checks is not None, "claim-check batches come only with LARGE_RECORDS"
        self._check_kept(batch)
        reason = await self.claim_checks.check_in(
            batch, lambda delay_s: self._back_off(batch, delay_s)
        )
        if reason is not None:
            batch.undeliverable = reason

    async def _deliver_part(
        self,
        batch: Batch,
        todo: list[int],
        allowed_failures: int,
        first_attempt_at: float,
        earlier_invocations: int,
    ) -> None:
        """Delivers records `todo` (indexes into the batch) as one payload, retrying.

        Function errors are retried `allowed_failures` times and, counted from
        `first_attempt_at`, for RETRY_FUNCTION_ERRORS_FOR_SECONDS, before the records are
        split or dead-lettered: a burst of errors passes without a dead letter. The halves of
        a bisection inherit `first_attempt_at`, so they have no second window.
        `earlier_invocations` is the records' count of invocations before a split, for the
        dead letter's account of them.
        """
        invocations = earlier_invocations
        transient = failures = 0
        while True:
            if invocations and self._settings.max_record_age_seconds is not None:
                todo = await self._dead_letter_expired(batch, todo, invocations, first_attempt_at)
                if not todo:
                    return
            self._check_kept(batch)
            result = await self._invoke(batch, todo)
            invocations += 1
            if result.outcome is Outcome.DELIVERED:
                failing = (
                    []
                    if result.failed_item_ids is None
                    else self._still_failing(batch, todo, result.failed_item_ids)
                )
                if self.answering.responses is not None:  # before the records are done
                    await self.answering.answer(
                        batch, todo, failing, result, lambda s: self._back_off(batch, s)
                    )
                self._record_end_to_end(batch, todo, failing)
                self._counters.records_accepted += len(todo) - len(failing)
                if not failing:
                    return
                todo = failing
                failures += 1
                self._counters.function_errors += 1
            elif result.outcome in (Outcome.THROTTLED, Outcome.RETRYABLE):
                transient += 1
                self._counters.retries += 1
                await self._back_off(batch, self._backoff.delay_s(transient + failures))
                continue
            elif result.outcome is Outcome.FUNCTION_ERROR:
                failures += 1
                self._counters.function_errors += 1
                if self.answering.errors is not None:
                    await self.answering.report_error(batch, todo, result, invocations)
            else:
                raise FatalInvokeError(
                    f"Lambda refused the invocation of {self._settings.lambda_function_name!r}: "
                    f"{result.error_type}: {result.error_message}. Check LAMBDA_FUNCTION_NAME "
                    "and the task role's lambda:InvokeFunction permission."
                )
            # The function failed (all of `todo`, or these records of it).
            if failures > allowed_failures and self._mode is OnFailure.DLQ:
                if self._retried_long_enough(first_attempt_at):
                    await self._isolate_or_dead_letter(
                        batch, todo, result, invocations, first_attempt_at
                    )
                    return
            elif failures > allowed_failures and is_power_of_two(failures - allowed_failures):
                self._log_stall(batch, todo, result.error_type, failures)
            self._counters.retries += 1
            await self._back_off(batch, self._function_error_backoff.delay_s(failures))

    def _check_kept(self, batch: Batch) -> None:
        gone = self._letting_go.get((batch.topic, batch.partition))
        if gone is not None and gone.is_set():
            raise LetGo()

    async def _back_off(self, batch: Batch, delay_s: float) -> None:
        """Sleeps `delay_s`, or raises LetGo as soon as the partition is let go."""
        gone = self._letting_go.setdefault((batch.topic, batch.partition), asyncio.Event())
        try:
            await asyncio.wait_for(gone.wait(), delay_s)
        except TimeoutError:
            return
        raise LetGo()

    def _retried_long_enough(self, first_attempt_at: float) -> bool:
        window_s = self._settings.retry_function_errors_for_seconds
        return time.time() - first_attempt_at >= window_s

    def _record_end_to_end(self, batch: Batch, sent: list[int], failing: list[int]) -> None:
        now_ms = time.time() * 1000
        histogram = self._metrics.end_to_end_latency_ms
        failed = set(failing)
        for i in sent:
            if i not in failed:
                histogram.add(now_ms - batch.records[i].timestamp)

    async def _invoke(self, batch: Batch, todo: Sequence[int]) -> InvokeResult:
        payload = self._encoder.assemble(
            batch.topic, batch.partition, [batch.fragments[i] for i in todo]
        )
        partition = TopicPartition(batch.topic, batch.partition)
        gone = self._letting_go.setdefault((batch.topic, batch.partition), asyncio.Event())
        while True:
            await self._leases.cover(partition, gone)
            self._check_kept(batch)
            async with self.limit.permit() as permit:
                self._check_kept(batch)  # let go while it waited for a permit
                started = self._leases.start(partition)
                if started is None:
                    continue  # the lease ran short while it waited for a permit
                result = await self._invoker.invoke(payload)
            break
        # A throttled request never ran; one with an answer has ended. A network error or a
        # 5xx says nothing: that invocation keeps its place in the lease until its deadline.
        self._leases.end(partition, started, answered=result.outcome is not Outcome.RETRYABLE)
        self._counters.invocations += 1
        self._metrics.invocation_latency_ms.add(result.latency_s * 1000)
        if result.outcome is Outcome.THROTTLED:
            self.limit.on_throttle(permit)
            self._counters.throttles += 1
        elif result.outcome is not Outcome.RETRYABLE:
            self.limit.on_success()  # the function answered: it has room
        return result

    async def _isolate_or_dead_letter(
        self,
        batch: Batch,
        todo: list[int],
        result: InvokeResult,
        invocations: int,
        first_attempt_at: float,
    ) -> None:
        """The function keeps failing these records: find the bad ones, dead-letter them."""
        if self._settings.bisect_on_error and len(todo) > 1:
            # Halves are tried once each (their records already failed together); a lone
            # record gets the full retries, so one flaky failure does not dead-letter it.
            middle = len(todo) // 2
            for half in (todo[:middle], todo[middle:]):
                retries = self._settings.max_retries if len(half) == 1 else 0
                await self._deliver_part(batch, half, retries, first_attempt_at, invocations)
            return
        error_type = result.error_type or "PartialBatchFailure"
        message = result.error_message or "the function reported these records failed"
        await self._give_up(batch, todo, error_type, message, invocations, first_attempt_at)

    def _still_failing(
        self, batch: Batch, todo: list[int], failed_ids: Collection[str]
    ) -> list[int]:
        """The records to retry after a partial batch response."""
        offsets_in_payload = {str(batch.records[i].offset) for i in todo}
        if "*" in failed_ids or not set(failed_ids) <= offsets_in_payload:
            return todo  # an answer we cannot map to records: retry them all
        retry = []
        failed_keys: set[bytes | None] = set()
        by_key = self._settings.ordering is Ordering.key
        for i in todo:
            record = batch.records[i]
            if str(record.offset) in failed_ids:
                retry.append(i)
                failed_keys.add(record.key)
            elif by_key and record.key is not None and record.key in failed_keys:
                retry.append(i)  # it must not overtake the failed record of its key
        return retry

    async def _dead_letter_expired(
        self, batch: Batch, todo: list[int], invocations: int, first_attempt_at: float
    ) -> list[int]:
        max_age_s = self._settings.max_record_age_seconds
        assert max_age_s is not None
        oldest_allowed_ms = (time.time() - max_age_s) * 1000
        expired = {i for i in todo if batch.records[i].timestamp < oldest_allowed_ms}
        if expired:
            await self._give_up(
                batch,
                sorted(expired),
                "RecordTooOld",
                f"not delivered within MAX_RECORD_AGE_SECONDS={max_age_s} of being written",
                invocations,
                first_attempt_at,
            )
        return [i for i in todo if i not in expired]

    async def _give_up(
        self,
        batch: Batch,
        indexes: Sequence[int],
        error_type: str,
        message: str,
        attempts: int,
        first_attempt_at: float | None = None,
    ) -> None:
        """Dead-letters the records (durably, retrying the write), or stalls without a DLQ."""
        if self.dead_letters is None or self._mode is OnFailure.STALL:
            await self._stall(batch, indexes, message)
        sink = self.dead_letters
        assert sink is not None
        now = time.time()
        letters = [
            DeadLetter(
                record=as_fetched(batch.records[i]),  # decoded or not: the bytes as fetched
                error_type=error_type,
                error_message=message,
                attempts=attempts,
                first_attempt_at=first_attempt_at or now,
                last_attempt_at=now,
            )
            for i in indexes
        ]
        write_failures = 0
        while True:
            try:
                await sink.write(letters)
                break
            except Exception as error:
                write_failures += 1
                self._counters.dead_letter_write_failures += 1
                log.error(
                    "dead-letter write failed; not committing past this record, retrying",
                    extra={
                        "fields": {
                            "dlq": sink.description,
                            "topic": batch.topic,
                            "partition": batch.partition,
                            "offset": letters[0].record.offset,
                            "error": f"{type(error).__name__}: {error}"[:500],
                            "failures": write_failures,
                        }
                    },
                )
                await asyncio.sleep(self._backoff.delay_s(write_failures))
        self._counters.dead_lettered += len(letters)
        for letter in letters:
            log.warning(
                DEAD_LETTERED,
                extra={
                    "fields": {
                        "dlq": sink.description,
                        "topic": batch.topic,
                        "partition": batch.partition,
                        "offset": letter.record.offset,
                        "key_hash": self._key_hashes.of(letter.record.key),
                        "error_type": error_type,
                        "attempts": attempts,
                    }
                },
            )

    def _log_stall(
        self, batch: Batch, todo: Sequence[int], error_type: str | None, failures: int
    ) -> None:
        first = batch.records[todo[0]]
        log.error(
            "function keeps failing; partition stalled until it succeeds (ON_FAILURE=stall "
            "or no DLQ)",
            extra={
                "fields": {
                    "topic": batch.topic,
                    "partition": batch.partition,
                    "offset": first.offset,
                    "key_hash": self._key_hashes.of(first.key),
                    "records": len(todo),
                    "failures": failures,
                    "error_type": error_type,
                }
            },
        )

    async def _stall(self, batch: Batch, indexes: Sequence[int], reason: str) -> None:
        record = batch.records[indexes[0]]
        log.error(
            "record cannot be delivered; partition stalled (ON_FAILURE=stall or no DLQ)",
            extra={
                "fields": {
                    "topic": batch.topic,
                    "partition": batch.partition,
                    "offset": record.offset,
                    "key_hash": self._key_hashes.of(record.key),
                    "reason": reason,
                }
            },
        )
        await asyncio.Future()  # until revoked or stopped: never skipped
