"""The local mode's command line: `python -m consumer.local [options]`."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from consumer.local.local_settings import SettingFlagError, parse_setting
from consumer.local.sample import MAX_RECORD_BYTES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEFAULT_HANDLER = "examples/native_handler.py:handler"
EXAMPLE_HANDLERS = {  # PAYLOAD_FORMAT -> the example that reads it
    "native": DEFAULT_HANDLER,
    "legacy": "examples/legacy_handler.py:handler",
    "value": "examples/value_handler.py:handler",
}
DEFAULT_TOPIC = "local-records"
DEFAULT_GROUP = "kafka-to-lambda-local"
DEFAULT_PARTITIONS = 20  # as in production: one task per partition there
DEFAULT_LOCAL_DLQ = Path("dead-letters")


@dataclass(frozen=True)
class LocalOptions:
    handler: str = DEFAULT_HANDLER
    bootstrap: str | None = None  # None: start the embedded broker
    topic: str = DEFAULT_TOPIC
    partitions: int = DEFAULT_PARTITIONS
    group_id: str = DEFAULT_GROUP
    lambda_port: int = 0  # 0: a free port
    produce: int = 0
    keys: int = 100
    record_bytes: int = 200
    poison: int = 0
    from_file: Path | None = None
    until_drained: bool = False
    local_dlq: Path = DEFAULT_LOCAL_DLQ
    settings: dict[str, str] = field(default_factory=dict)  # --set NAME=VALUE
    function_timeout_s: float = 3.0  # Lambda's default function timeout
    log_json: bool = False  # the bridge's log lines as production writes them

    @property
    def handler_spec(self) -> str:
        """The handler to load: an example is found wherever the command runs."""
        folder, _, spec = self.handler.partition("/")
        if folder == "examples" and self.handler in EXAMPLE_HANDLERS.values():
            return f"{EXAMPLES / spec}"
        return self.handler

    def for_payload_format(self, payload_format: str) -> LocalOptions:
        """Without --handler, the example written for the payload format the bridge sends
        (the native one's would fail on every `legacy` array and `value` payload)."""
        if self.handler != DEFAULT_HANDLER:
            return self
        return replace(self, handler=EXAMPLE_HANDLERS.get(payload_format, DEFAULT_HANDLER))

    @property
    def function_name(self) -> str:
        """The local function's name: the handler's file or module name, e.g. native_handler."""
        target = self.handler.rpartition(":")[0]
        stem = Path(target).stem if target.endswith(".py") else target.rpartition(".")[2]
        return re.sub(r"[^a-zA-Z0-9_-]", "-", stem)[:64] or "handler"


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _timeout(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 1 <= seconds <= 900:
        raise argparse.ArgumentTypeError(f"{text} s: Lambda's timeout is 1 to 900 s")
    return seconds


def _record_size(text: str) -> int:
    value = _count(text)
    if value > MAX_RECORD_BYTES:
        raise argparse.ArgumentTypeError(
            f"{value:,} bytes: the local mode produces records up to {MAX_RECORD_BYTES:,}"
        )
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535; 0 picks a free one)")
    return value


def _setting(text: str) -> tuple[str, str]:
    try:
        return parse_setting(text)
    except SettingFlagError as bad:
        raise argparse.ArgumentTypeError(str(bad)) from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m consumer.local",
        description=(
            "Run the bridge on this machine: an embedded Kafka broker (Tansu), a local Lambda "
            "running your handler, optional sample records, and the real bridge between them."
        ),
    )
    p.add_argument(
        "--handler",
        default=DEFAULT_HANDLER,
        help=(
            "path/to/file.py:function or package.module:function (default: the example for "
            "PAYLOAD_FORMAT, %(default)s for native)"
        ),
    )
    p.add_argument(
        "--function-timeout",
        dest="function_timeout_s",
        type=_timeout,
        default=3.0,
        metavar="SECONDS",
        help="the function's timeout, 1 to 900 s as Lambda's (default: 3, Lambda's default)",
    )
    p.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help="use this Kafka broker instead of starting the embedded one",
    )
    p.add_argument("--topic", default=DEFAULT_TOPIC, help="default: %(default)s")
    p.add_argument(
        "--partitions",
        type=_positive,
        default=DEFAULT_PARTITIONS,
        help="partitions of the topic, when this command creates it (default: %(default)s)",
    )
    p.add_argument("--group", dest="group_id", default=DEFAULT_GROUP, help="default: %(default)s")
    p.add_argument(
        "--lambda-port",
        type=_port,
        default=0,
        help="port of the local Lambda endpoint (default: a free one)",
    )
    p.add_argument(
        "--produce", type=_count, default=0, metavar="N", help="produce N sample records first"
    )
    p.add_argument(
        "--keys", type=_positive, default=100, metavar="K", help="sample keys key-0… (default: 100)"
    )
    p.add_argument(
        "--record-bytes",
        type=_record_size,
        default=200,
        metavar="B",
        help=(
            "size of a sample value, about (default: 200); over 6291456 (6 MiB, one Lambda "
            "invocation) the bridge dead-letters the record as undeliverable"
        ),
    )
    p.add_argument(
        "--poison",
        type=_count,
        default=0,
        metavar="N",
        help='make N of the sample records carry the "poison" marker the failing example fails on',
    )
    p.add_argument(
        "--from-file",
        type=Path,
        metavar="PATH",
        help=(
            'produce the JSON lines {"key": …, "value": …, "headers": {…}} of PATH first '
            '("key" and "headers" optional; "value": null is a tombstone)'
        ),
    )
    p.add_argument(
        "--until-drained",
        action="store_true",
        help="stop once every record in the topic is delivered or dead-lettered",
    )
    p.add_argument(
        "--local-dlq",
        type=Path,
        default=DEFAULT_LOCAL_DLQ,
        metavar="DIR",
        help="dead-letter directory, unless DLQ is set (default: ./%(default)s)",
    )
    p.add_argument(
        "--log-json",
        action="store_true",
        help=(
            "show the bridge's log lines as production writes them (JSON, every one), not in "
            "words with those the progress line and summary say left out"
        ),
    )
    p.add_argument(
        "--set",
        dest="settings",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a bridge setting (docs/settings.md), e.g. --set BATCH_SIZE=50; repeatable",
    )
    return p


def parse_options(argv: Sequence[str] | None = None) -> LocalOptions:
    """The options, or exit 2 with the usage and what is wrong (argparse's way)."""
    p = parser()
    arguments = p.parse_args(argv)
    if arguments.from_file is not None and arguments.produce:
        p.error("--from-file and --produce: choose one source of records")
    if arguments.poison > arguments.produce:
        p.error(f"--poison {arguments.poison}: at most --produce records ({arguments.produce})")
    return LocalOptions(
        handler=arguments.handler,
        bootstrap=arguments.bootstrap,
        topic=arguments.topic,
        partitions=arguments.partitions,
        group_id=arguments.group_id,
        lambda_port=arguments.lambda_port,
        produce=arguments.produce,
        keys=arguments.keys,
        record_bytes=arguments.record_bytes,
        poison=arguments.poison,
        from_file=arguments.from_file,
        until_drained=arguments.until_drained,
        local_dlq=arguments.local_dlq,
        settings=dict(arguments.settings),
        function_timeout_s=arguments.function_timeout_s,
        log_json=arguments.log_json,
    )
