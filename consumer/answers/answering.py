"""Answering invocations: what the delivery hands over once the function has answered.

`answer` produces a successful invocation's answer to RESPONSE_TOPIC and returns only once
the broker has it, retrying a failed produce with backoff (never by invoking again); the
delivery counts the records done only after it, so nothing is committed before its answer.
`report_error` produces a function error to ERROR_TOPIC, best effort: a bounded wait, then
it is counted and given up, so an error topic that is down never holds delivery up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from consumer.answers.producer import ERROR_PRODUCE_TIMEOUT_S, TopicProducer, produce_within
from consumer.answers.records import Invocation, answer_records, error_record
from consumer.aws_lambda.answers import InvokeResult
from consumer.operations.counters import Counters
from consumer.records import Batch
from consumer.settings.backoff import Backoff
from consumer.settings.model import BridgeSettings

log = logging.getLogger("consumer.answers")

BackOff = Callable[[float], Awaitable[None]]  # sleeps that long, or raises to give up


class Answering:
    """The producers of RESPONSE_TOPIC and ERROR_TOPIC (either may be None: not set)."""

    def __init__(
        self,
        settings: BridgeSettings,
        counters: Counters,
        responses: TopicProducer | None = None,
        errors: TopicProducer | None = None,
    ) -> None:
        self.responses = responses
        self.errors = errors
        self._counters = counters
        self._backoff: Backoff = settings.retry_backoff
        qualifier = settings.lambda_qualifier
        self._function_name = settings.lambda_function_name + (f":{qualifier}" if qualifier else "")

    async def answer(
        self,
        batch: Batch,
        todo: Sequence[int],
        failing: Sequence[int],
        result: InvokeResult,
        back_off: BackOff,
    ) -> None:
        """Produces the answer to the invocation of `todo` (its records `failing` left out:
        their retry answers them), retrying until the broker has it or `back_off` gives up."""
        responses = self.responses
        if responses is None:
            return
        retried = frozenset(batch.records[i].offset for i in failing)
        answer = answer_records(
            result.body or b"",
            self._invocation(batch, result),
            [batch.records[i] for i in todo],
            retried,
        )
        if answer.unsplit_reason is not None:
            self._counters.answers_unsplit += 1
            log.warning(
                "per-record results could not be split; the answer goes as one record",
                extra={"fields": {**_where(batch, todo), "reason": answer.unsplit_reason}},
            )
        if not answer.records:
            return
        failures = 0
        while True:
            try:
                await responses.produce(answer.records)
                break
            except Exception as error:
                failures += 1
                self._counters.answer_produce_failures += 1
                log.error(
                    "answer produce failed; not committing these records, producing again",
                    extra={
                        "fields": {
                            "response_topic": responses.description,
                            **_where(batch, todo),
                            "error": f"{type(error).__name__}: {error}"[:500],
                            "failures": failures,
                        }
                    },
                )
                await back_off(self._backoff.delay_s(failures))
        self._counters.answers_produced += len(answer.records)

    async def report_error(
        self, batch: Batch, todo: Sequence[int], result: InvokeResult, attempt: int
    ) -> None:
        """Produces a function error to ERROR_TOPIC, best effort: a retry is not held up."""
        errors = self.errors
        if errors is None:
            return
        record = error_record(
            result.body or b"",
            result.error_type or "Unknown",
            attempt,
            self._invocation(batch, result),
            [batch.records[i] for i in todo],
        )
        try:
            await produce_within(errors, [record], ERROR_PRODUCE_TIMEOUT_S)
        except Exception as error:
            self._counters.error_produce_failures += 1
            log.error(
                "function error not produced; delivery goes on without it",
                extra={
                    "fields": {
                        "error_topic": errors.description,
                        **_where(batch, todo),
                        "error": f"{type(error).__name__}: {error}"[:500],
                    }
                },
            )
            return
        self._counters.errors_produced += 1

    def _invocation(self, batch: Batch, result: InvokeResult) -> Invocation:
        return Invocation(batch.topic, batch.partition, self._function_name, result.request_id)


def _where(batch: Batch, todo: Sequence[int]) -> dict[str, object]:
    """The log fields naming the invocation's first record (never its contents)."""
    return {
        "topic": batch.topic,
        "partition": batch.partition,
        "offset": batch.records[todo[0]].offset,
    }
