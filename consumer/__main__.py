"""`python -m consumer`: run the bridge with settings from the environment.

Exit codes: 0 after a clean drain on SIGTERM/SIGINT; 2 bad settings; 3 Kafka refused or
unreachable; 4 the function cannot be invoked; 5 Lambda refused an invocation for good.
A second signal exits at once (130).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time

from consumer.aws_lambda.invoker import LambdaInvoker
from consumer.bridge import Bridge
from consumer.errors import BridgeError
from consumer.operations.logs import configure_logging
from consumer.ownership.leases import Clock
from consumer.settings.model import BridgeSettings, load_settings
from consumer.settings.usage import settings_help

log = logging.getLogger("consumer")

_DESCRIPTION = """\
Runs the bridge: delivers every record of the Kafka topic to the Lambda function, with
the settings below, read from the environment.

exit codes: 0 after a clean drain on SIGTERM or SIGINT (a second signal exits at once,
130); 2 bad settings; 3 Kafka refused or unreachable; 4 the function cannot be invoked;
5 Lambda refused an invocation for good."""


async def serve(settings: BridgeSettings, clock: Clock = time.time) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(number: int) -> None:
        if stop.is_set():
            os._exit(128 + number)  # asked twice: the operator wants out now
        log.info("signal received", extra={"fields": {"signal": signal.Signals(number).name}})
        stop.set()

    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, on_signal, number)
    async with LambdaInvoker(settings) as invoker:
        await Bridge(settings, invoker, clock=clock).run(stop)


def parse_arguments(argv: list[str] | None) -> None:
    """No arguments: the settings are environment variables, which `--help` lists."""
    parser = argparse.ArgumentParser(
        prog="python -m consumer",
        description=_DESCRIPTION,
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)


def main(argv: list[str] | None = None, clock: Clock = time.time) -> int:
    parse_arguments(argv)
    try:
        settings = load_settings()
    except BridgeError as error:
        configure_logging()
        log.error(str(error), extra={"fields": {"exit_code": error.exit_code}})
        return error.exit_code
    configure_logging(settings.log_level, settings.secret_values)
    log.info(
        "starting",
        extra={
            "fields": {
                "topics": settings.topics_description,
                "group": settings.kafka_group_id,
                "function": settings.lambda_function_name,
                "payload_format": settings.payload_format.value,
                "ordering": settings.ordering.value,
            }
        },
    )
    try:
        asyncio.run(serve(settings, clock))
    except BridgeError as error:
        log.error(str(error), extra={"fields": {"exit_code": error.exit_code}})
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
