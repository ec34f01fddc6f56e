"""`python -m consumer.local`: the whole pipeline on one machine.

In order: load the handler (the user's code fails first, before anything starts); start
the local Lambda; read the bridge's settings with the production `load_settings`; start
the embedded broker (or reach `--bootstrap`); create the topic; produce; run the
production `Bridge` in this process until drained or interrupted. Everything is stopped
in reverse order, then the summary is printed.

Exit codes: 0 drained, or stopped cleanly by a signal; 1 the broker did not start; 2 a
problem with the command line (options, handler, port, settings, no embedded broker
here); the bridge's own codes for what it reports (3 Kafka, 4 Lambda, 5 a fatal invoke);
130 interrupted while starting, or a second Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from consumer.aws_lambda.invoker import LambdaInvoker
from consumer.bridge import Bridge
from consumer.errors import BridgeError, KafkaStartupError
from consumer.failures.dead_letters import FileDeadLetters
from consumer.kafka.connection import client_arguments
from consumer.kafka.probe import probe_brokers
from consumer.local.broker_process import BrokerStartError
from consumer.local.cli import LocalOptions, parse_options
from consumer.local.functions import FunctionSpec, Handler
from consumer.local.handler_errors import HandlerErrors
from consumer.local.handlers import HandlerLoadError, load_handler
from consumer.local.joining import assigned_line, waiting_line
from consumer.local.local_settings import OWNED, SETTING_NAMES, local_environment
from consumer.local.log_lines import LocalLogFormatter, SaidElsewhere
from consumer.local.progress import Progress, Terminal
from consumer.local.received import ReceivedTally
from consumer.local.sample import (
    MAX_RECORD_BYTES,
    NOTHING_PRODUCED,
    Produced,
    SampleFileError,
    SampleRecord,
    produce,
    records_from_file,
    sample_records,
)
from consumer.local.server import LocalLambda
from consumer.local.summary import (
    AnswersProduced,
    RunSummary,
    counted,
    dead_letter_files_of,
    records_per_s,
    summary_lines,
)
from consumer.local.tansu import TansuBroker, TansuUnavailable
from consumer.local.topic import GroupPosition, GroupPositionReader, Topic, ensure_topic
from consumer.operations.counters import Counters
from consumer.operations.logs import configure_logging
from consumer.pipeline.status import Stage
from consumer.settings.answers import parse_answer_topic
from consumer.settings.failures import OnFailure, parse_dlq
from consumer.settings.model import BridgeSettings, load_settings

EXIT_INTERRUPTED = 130
_LIVE_TICK_S = 0.5  # how often the live line refreshes (and the group's position is read)
_PLAIN_TICK_S = 1.0
_SHOWN_SETTINGS = ("PAYLOAD_FORMAT", "ORDERING", "BATCH_SIZE", "MAX_IN_FLIGHT_PER_PARTITION", "DLQ")
_NOT_SHOWN = frozenset({"KAFKA_PASSWORD", "LOG_LEVEL", "HEALTH_FILE", "AWS_REGION", *OWNED})


class LocalModeError(Exception):
    """A problem with how the local mode was asked to run; the message says what to change."""


@dataclass
class _Interrupt:
    """The first SIGINT/SIGTERM asks for a clean stop; the second exits at once."""

    requested: bool = False
    stop: asyncio.Event | None = None  # set once the bridge runs: it drains, then stops


class LocalRun:
    def __init__(self, options: LocalOptions, terminal: Terminal, environ: dict[str, str]) -> None:
        self._options = options
        self._terminal = terminal
        self._environ = environ
        self.interrupt = _Interrupt()
        self._work: Path | None = None  # the run's temporary directory, once made
        self._broker: TansuBroker | None = None  # the embedded broker, once started

    async def execute(self) -> int:
        options = self._options
        handler = load_handler(options.handler_spec)
        from_file = records_from_file(options.from_file) if options.from_file else None
        async with AsyncExitStack() as stack:
            # Closed last: the broker's log and the heartbeat live here.
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="k2l-local-")))
            self._work = work
            local_lambda = await self._start_lambda(stack, handler)
            broker = None if options.bootstrap else TansuBroker(work / "tansu.log")
            self._broker = broker
            settings = self._settings(
                broker.bootstrap if broker else str(options.bootstrap),
                local_lambda.url,
                work / "bridge.health",
            )
            self._route_logs(settings)
            tally = ReceivedTally(options.function_name, settings.payload_format)
            local_lambda.record.listen(tally.observe)
            errors = HandlerErrors(options.function_name, self._terminal.say)
            local_lambda.record.listen(errors.observe)
            await self._reach_broker(stack, broker, settings)
            topic = await self._prepare_topic(settings)
            self._say(
                "function", f"{options.function_name} = {options.handler} at {local_lambda.url}"
            )
            produced = await self._produce(settings, from_file)
            self._say("bridge", _settings_line(settings, self._environ, options.settings))
            exit_code = await self._deliver(stack, settings, topic, local_lambda, tally, produced)
        return exit_code

    def abandon(self) -> None:
        """Asked to stop twice: no clean stop, but nothing left behind either: the embedded
        broker's process killed, the run's temporary directory removed."""
        if self._broker is not None:
            self._broker.kill()
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)

    # -- starting --------------------------------------------------------------------------

    async def _start_lambda(self, stack: AsyncExitStack, handler: Handler) -> LocalLambda:
        local_lambda = LocalLambda(
            [
                FunctionSpec(
                    self._options.function_name,
                    handler,
                    timeout_s=self._options.function_timeout_s,
                )
            ],
            port=self._options.lambda_port,
            record_max_kept=100,  # the tally counts every invocation; keep only recent ones
        )
        stack.push_async_callback(local_lambda.stop)
        try:
            await local_lambda.start()
        except OSError as failed:
            if failed.errno == errno.EADDRINUSE:
                raise LocalModeError(
                    f"--lambda-port {self._options.lambda_port}: the port is in use; choose "
                    "another, or leave --lambda-port out to get a free one."
                ) from None
            raise
        return local_lambda

    def _settings(self, bootstrap: str, lambda_url: str, health_file: Path) -> BridgeSettings:
        options = self._options
        return load_settings(
            local_environment(
                environ=self._environ,
                flags=options.settings,
                bootstrap=bootstrap,
                topic=options.topic,
                group_id=options.group_id,
                function_name=options.function_name,
                lambda_url=lambda_url,
                local_dlq=options.local_dlq,
                health_file=health_file,
            )
        )

    def _route_logs(self, settings: BridgeSettings) -> None:
        """The one logger setup, its lines written above the progress line: in the local
        mode's words, or (--log-json) as production writes them."""
        level, secrets, stream = settings.log_level, settings.secret_values, self._terminal.stream()
        if self._options.log_json:
            configure_logging(level, secrets, stream=stream)
            return
        configure_logging(
            level,
            secrets,
            formatter=LocalLogFormatter(),
            stream=stream,
            keep=SaidElsewhere(embedded_broker=self._options.bootstrap is None),
        )

    async def _reach_broker(
        self, stack: AsyncExitStack, broker: TansuBroker | None, settings: BridgeSettings
    ) -> None:
        if broker is None:
            self._say("broker", f"{settings.kafka_bootstrap_servers} (--bootstrap), connecting…")
            # The user gave --bootstrap; KAFKA_BOOTSTRAP_SERVERS is not read here.
            await probe_brokers(settings, servers_named=f"--bootstrap {self._options.bootstrap}")
            return
        stack.callback(broker.stop)
        # aiokafka logs each refused connection while the broker is still starting.
        with _silenced("aiokafka"):
            await broker.start()
        self._say("broker", f"Tansu on {broker.bootstrap} (pid {broker.pid}), in memory")

    async def _prepare_topic(self, settings: BridgeSettings) -> Topic:
        topic, partitions = self._options.topic, self._options.partitions
        try:
            prepared = await ensure_topic(client_arguments(settings), topic, partitions)
        except KafkaError as refused:
            raise KafkaStartupError(f"could not create topic {topic}: {refused!r}") from None
        how = "created" if prepared.created else "exists"
        self._say("topic", f"{topic}: {how}, {counted(prepared.partitions, 'partition')}")
        dlq = parse_dlq(settings.dlq) if settings.dlq else None
        if dlq is not None and dlq.scheme == "kafka":
            # Here only: the bridge itself never creates topics, in production least of all.
            try:
                letters = await ensure_topic(
                    client_arguments(settings), dlq.target, prepared.partitions
                )
            except KafkaError as refused:
                raise KafkaStartupError(
                    f"could not create the dead-letter topic {dlq.target}: {refused!r}"
                ) from None
            how = "created" if letters.created else "exists"
            self._say("dlq", f"{dlq.target}: {how}, {counted(letters.partitions, 'partition')}")
        for variable, location in (
            ("RESPONSE_TOPIC", settings.response_topic),
            ("ERROR_TOPIC", settings.error_topic),
        ):
            answer_topic = None if location is None else parse_answer_topic(variable, location)
            if answer_topic is None or answer_topic.bootstrap_servers is not None:
                continue  # another cluster's topic is that cluster's to create
            try:
                answers = await ensure_topic(
                    client_arguments(settings), answer_topic.topic, prepared.partitions
                )
            except KafkaError as refused:
                raise KafkaStartupError(
                    f"could not create the {variable} topic {answer_topic.topic}: {refused!r}"
                ) from None
            how = "created" if answers.created else "exists"
            what = f"{answer_topic.topic}: {how}, {counted(answers.partitions, 'partition')}"
            self._say("answers" if variable == "RESPONSE_TOPIC" else "errors", what)
        return prepared

    async def _produce(
        self, settings: BridgeSettings, from_file: list[SampleRecord] | None
    ) -> Produced:
        options = self._options
        records: Iterable[SampleRecord]
        if from_file is not None:
            records, total, what = from_file, len(from_file), f"from {options.from_file}"
        elif options.produce:
            records = sample_records(
                options.produce, options.keys, options.record_bytes, options.poison
            )
            total = options.produce
            what = f"keys key-0…key-{options.keys - 1}, ~{options.record_bytes} bytes each"
            if options.poison:
                what += f', {options.poison} with the "poison" marker'
        else:
            return NOTHING_PRODUCED

        def show(count: int) -> None:
            self._terminal.show_status(f"producing {count:,}/{total:,} records ({what})")

        show(0)
        try:
            produced = await produce(client_arguments(settings), options.topic, records, show)
        except MessageSizeTooLargeError:
            raise KafkaStartupError(_too_large(options.topic, options.bootstrap)) from None
        except KafkaError as refused:
            raise KafkaStartupError(
                f"could not produce to {options.topic} on {settings.kafka_bootstrap_servers}: "
                f"{refused!r}"
            ) from None
        finally:
            self._terminal.clear_progress()
        self._say("produced", f"{counted(produced.count, 'record')} ({what})")
        return produced

    # -- delivering ------------------------------------------------------------------------

    async def _deliver(
        self,
        stack: AsyncExitStack,
        settings: BridgeSettings,
        topic: Topic,
        local_lambda: LocalLambda,
        tally: ReceivedTally,
        produced: Produced,
    ) -> int:
        invoker = await stack.enter_async_context(LambdaInvoker(settings))
        reader = await stack.enter_async_context(
            GroupPositionReader(
                client_arguments(settings),
                topic,
                settings.kafka_group_id,
                known_ends=produced.ends,
            )
        )
        # The progress line and summary are the local view; CloudWatch's EMF lines are noise here.
        bridge = Bridge(settings, invoker, metrics_out=None)
        stop = asyncio.Event()
        self.interrupt.stop = stop
        until = (
            "until every record is done (Ctrl-C stops it sooner)"
            if self._options.until_drained
            else "until Ctrl-C"
        )
        self._say("running", until)
        started_s = time.monotonic()
        running = asyncio.create_task(bridge.run(stop), name="bridge")
        try:
            drained = await self._watch(bridge, running, reader, local_lambda, produced, started_s)
            if not drained and not running.done():  # Ctrl-C: the bridge finishes what is in flight
                stop.set()
                await self._show_the_drain(
                    bridge,
                    running,
                    local_lambda,
                    produced,
                    started_s,
                    settings.shutdown_timeout_seconds,
                )
        finally:
            self._terminal.end_progress()  # what the bridge writes as it stops goes below
            stop.set()
            await asyncio.wait({running})
        running.result()  # the bridge's own error, if it stopped on one
        counters = bridge.counters
        sink = bridge.dead_letters
        files = dead_letter_files_of(sink) if isinstance(sink, FileDeadLetters) else []
        summary = RunSummary(
            drained=drained,
            wall_s=time.monotonic() - started_s,
            produced=produced.count or None,
            delivered=counters.records_accepted,
            dead_lettered=counters.dead_lettered,
            duplicates=tally.duplicates,
            function_errors=counters.function_errors,
            retries=counters.retries,
            throttles=counters.throttles,
            dead_letter_files=files,
            filtered=counters.records_filtered if settings.filter_patterns else None,
            delivering_s=bridge.working_s,
            splits_failures=settings.failure_mode is OnFailure.DLQ,
            answers=_answers_produced(settings, counters),
        )
        for line in summary_lines(summary):
            self._terminal.say(line)
        return 0

    async def _watch(
        self,
        bridge: Bridge,
        running: asyncio.Task[None],
        reader: GroupPositionReader,
        local_lambda: LocalLambda,
        produced: Produced,
        started_s: float,
    ) -> bool:
        """Shows progress until the bridge stops, a signal asks it to, or (--until-drained)
        the group has committed every record; True in that last case. Until the group has
        assigned the bridge its partitions, the line says what it waits for instead."""
        assert self.interrupt.stop is not None
        stopping = asyncio.ensure_future(self.interrupt.stop.wait())
        assigning = asyncio.ensure_future(bridge.joined())  # the line changes as it comes
        tick_s = _LIVE_TICK_S if self._terminal.live else _PLAIN_TICK_S
        waited_for: Stage | None = None  # what the line last said the bridge waits for
        joined = False  # the group has assigned the bridge its partitions: records can flow
        try:
            while True:
                position = await _position(reader, bridge)
                progress = self._progress(bridge, local_lambda, produced, started_s, position)
                drained = self._options.until_drained and progress.lag == 0
                stage = bridge.stage
                if not joined and stage is not Stage.ASSIGNED and not drained:
                    line = waiting_line(stage, self._options.group_id, progress.elapsed_s)
                    self._terminal.show_status(line, force=stage is not waited_for)
                    waited_for = stage
                else:
                    if not joined:
                        joined = True
                        self._say_joined(bridge)
                    self._terminal.show(progress, force=drained)
                if drained:
                    return True
                ended, _ = await asyncio.wait(
                    {running, stopping} if joined else {running, stopping, assigning},
                    timeout=tick_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if ended - {assigning}:
                    return False
        finally:
            stopping.cancel()
            assigning.cancel()

    def _say_joined(self, bridge: Bridge) -> None:
        """Once, at the group's first assignment: the partitions the bridge was given."""
        self._terminal.clear_progress()
        if bridge.stage is Stage.ASSIGNED:  # not when a run is drained before it joins
            delivering, waiting = bridge.assigned()
            self._say("group", assigned_line(self._options.group_id, delivering, waiting))

    def _progress(
        self,
        bridge: Bridge,
        local_lambda: LocalLambda,
        produced: Produced,
        started_s: float,
        position: GroupPosition | None,
        note: str | None = None,
    ) -> Progress:
        counters = bridge.counters
        # Each record counts once it is finished, so "done" is never behind "dead-lettered".
        done = counters.records_accepted + counters.dead_lettered + counters.records_filtered
        return Progress(
            elapsed_s=time.monotonic() - started_s,
            done=done,
            dead_lettered=counters.dead_lettered,
            in_flight=local_lambda.record.in_flight(self._options.function_name),
            retries=counters.retries,
            target=produced.count or None,
            lag=None if position is None else position.lag,
            filtered=counters.records_filtered if bridge.filtering else None,
            rate_per_s=records_per_s(done, bridge.working_s),
            note=note,
        )

    async def _show_the_drain(
        self,
        bridge: Bridge,
        running: asyncio.Task[None],
        local_lambda: LocalLambda,
        produced: Produced,
        started_s: float,
        timeout_s: float,
    ) -> None:
        """While the bridge finishes its invocations in flight (after Ctrl-C), the line goes on,
        saying what it waits for and for how long at most."""
        tick_s = _LIVE_TICK_S if self._terminal.live else _PLAIN_TICK_S
        deadline = time.monotonic() + timeout_s
        first = True  # shown at once, whenever the last line was
        while not running.done():
            left_s = max(0.0, deadline - time.monotonic())
            note = f"stopping: finishing the invocations in flight, {left_s:.0f} s at most"
            self._terminal.show(
                self._progress(bridge, local_lambda, produced, started_s, None, note), force=first
            )
            first = False
            await asyncio.wait({running}, timeout=tick_s)

    def _say(self, what: str, text: str) -> None:
        self._terminal.say(f"{what:<10}{text}")


@contextlib.contextmanager
def _silenced(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


async def _position(reader: GroupPositionReader, bridge: Bridge) -> GroupPosition | None:
    fetched_ends = {tp.partition: end for tp, end in bridge.high_waters().items()}
    try:
        return await reader.read(fetched_ends)
    except KafkaError:
        return None  # shown as an unknown lag; the next tick asks again


def _answers_produced(settings: BridgeSettings, counters: Counters) -> AnswersProduced | None:
    if settings.response_topic is None and settings.error_topic is None:
        return None
    return AnswersProduced(
        settings.response_topic,
        counters.answers_produced,
        counters.answers_unsplit,
        settings.error_topic,
        counters.errors_produced,
    )


def _too_large(topic: str, bootstrap: str | None) -> str:
    """The broker refused a record the local mode's producer would send (up to
    MAX_RECORD_BYTES): its own limit applies, and the message says which."""
    if bootstrap is None:
        return f"could not produce to {topic}: the embedded broker refused a record as too large"
    return (
        f"could not produce to {topic}: the broker at --bootstrap {bootstrap} refused a "
        "record as too large. Apache Kafka takes about 1 MB per record unless the broker's "
        "message.max.bytes (or the topic's max.message.bytes) is raised; the embedded broker "
        f"(without --bootstrap) takes records up to {MAX_RECORD_BYTES:,} bytes"
    )


def _settings_line(settings: BridgeSettings, environ: dict[str, str], flags: dict[str, str]) -> str:
    """The main delivery settings, and every setting the user gave, as NAME=VALUE."""
    given = [n for n in (*environ, *flags) if n in SETTING_NAMES and n not in _NOT_SHOWN]
    names = dict.fromkeys([*_SHOWN_SETTINGS, *given])
    values = []
    for name in names:
        value = getattr(settings, name.lower())
        values.append(f"{name}={getattr(value, 'value', value)}")
    return " ".join(values)


async def _main(options: LocalOptions, terminal: Terminal, environ: dict[str, str]) -> int:
    payload_format = options.settings.get("PAYLOAD_FORMAT", environ.get("PAYLOAD_FORMAT", ""))
    run = LocalRun(options.for_payload_format(payload_format.strip().lower()), terminal, environ)
    work = asyncio.create_task(run.execute(), name="local-mode")
    loop = asyncio.get_running_loop()

    def on_signal(number: int) -> None:
        if run.interrupt.requested:
            terminal.say("interrupted again: exiting now")
            run.abandon()
            os._exit(128 + number)  # asked twice: the user wants out now
        run.interrupt.requested = True
        if run.interrupt.stop is None:
            work.cancel()  # still starting: unwind what has started
        else:
            terminal.say(
                "stopping: finishing the invocations in flight (SHUTDOWN_TIMEOUT_SECONDS at most), "
                "then committing (Ctrl-C again quits)"
            )
            run.interrupt.stop.set()

    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, on_signal, number)
    try:
        return await work
    except asyncio.CancelledError:
        if not work.cancelled():
            raise
        terminal.say("interrupted while starting; stopped what had started")
        return EXIT_INTERRUPTED


def _fake_credentials(environ: MutableMapping[str, str]) -> None:
    """botocore signs every request, the local Lambda's too: give it keys if it has none."""
    if not any(name in environ for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE")):
        environ["AWS_ACCESS_KEY_ID"] = "local"
        environ["AWS_SECRET_ACCESS_KEY"] = "local"


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    terminal = Terminal(sys.stdout, live=sys.stdout.isatty())
    _fake_credentials(os.environ)
    try:
        # What the handler prints goes above the progress line, as log lines do.
        with contextlib.redirect_stdout(terminal.stream()):
            return asyncio.run(_main(options, terminal, dict(os.environ)))
    except (HandlerLoadError, LocalModeError, SampleFileError, TansuUnavailable) as failed:
        return _failed(terminal, str(failed), 2)
    except BrokerStartError as failed:
        return _failed(terminal, str(failed), 1)
    except BridgeError as failed:
        return _failed(terminal, str(failed), failed.exit_code)


def _failed(terminal: Terminal, message: str, exit_code: int) -> int:
    terminal.end_progress()
    print(f"error: {message}", file=sys.stderr, flush=True)
    return exit_code
