"""The one logger setup: JSON lines on stdout, one object per line (a front end that speaks
to a person, the local mode, passes a formatter, a stream and a filter of its own).

Fields go in `extra={"fields": {...}}`. Record contents and secrets never go in a log
line: counts, offsets and keyed hashes of keys do (`KeyHashes`). At every level, DEBUG included:
- the libraries' request-level loggers (`_REQUEST_LOGGERS`) print whole requests and
  responses at DEBUG (aiokafka the SASL bytes with the password and every fetched record,
  botocore signed headers and bodies), so they are held at INFO whatever LOG_LEVEL says;
- every secret the bridge knows (its secret settings, and each token it fetches: `never_log`)
  is replaced by `[redacted]` in any line that still carries one, as a second guard.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import secrets
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


# aiokafka warns at every heartbeat (twice a second) while its group rebalances, which can
# last as long as the function's timeout: the bridge says once when a rebalance starts and
# ends ("revoking partitions", "partitions revoked", "partitions assigned").
_REBALANCE_HEARTBEAT = "Heartbeat failed for group %s because it is rebalancing"


def _not_a_rebalance_heartbeat(record: logging.LogRecord) -> bool:
    return not (record.name.startswith("aiokafka") and record.msg == _REBALANCE_HEARTBEAT)


# Loggers that write whole requests or responses at DEBUG; never below INFO here.
_REQUEST_LOGGERS = (
    "aiokafka.conn",  # every request and response: SASL bytes, tokens, fetched records
    "botocore",  # request headers with signatures and session tokens, request bodies
    "aiobotocore",
    "aiohttp.client",
    "urllib3",
    "s3transfer",
    "aws_msk_iam_sasl_signer",
)
_REDACTED = "[redacted]"
_SHORTEST_SECRET = 6  # shorter values would redact common words, not secrets


class _Secrets:
    """The values no log line may carry, as written in a line: raw and JSON-escaped."""

    def __init__(self) -> None:
        self._forms: set[str] = set()

    def add(self, secret: str) -> None:
        if len(secret) >= _SHORTEST_SECRET:
            self._forms.update({secret, json.dumps(secret)[1:-1]})
            # A multi-line secret (a PEM key) is matched line by line, wherever lines go.
            self._forms.update(line for line in secret.splitlines() if len(line) >= 16)

    def redact(self, line: str) -> str:
        for form in self._forms:
            if form in line:
                line = line.replace(form, _REDACTED)
        return line


_SECRETS = _Secrets()


def never_log(secret: str) -> None:
    """Redacts `secret` from every later log line (a token the bridge fetched, say)."""
    _SECRETS.add(secret)


class _Redacting(logging.Formatter):
    """Another formatter's lines, with every secret known so far replaced."""

    def __init__(self, lines: logging.Formatter) -> None:
        super().__init__()
        self._lines = lines

    def format(self, record: logging.LogRecord) -> str:
        return _SECRETS.redact(self._lines.format(record))


def configure_logging(
    level: str = "INFO",
    secret_values: Iterable[str] = (),
    *,
    formatter: logging.Formatter | None = None,
    stream: io.TextIOBase | None = None,
    keep: Callable[[logging.LogRecord], bool] | None = None,
) -> None:
    """Lines at `level`; `secret_values` (the secret settings') are never written. Each line
    is written by `formatter` (JSON unless given), redacted whatever writes it, to `stream`
    (stdout unless given); with `keep`, only the records it returns True for."""
    for secret in secret_values:
        never_log(secret)
    handler = logging.StreamHandler(sys.stdout if stream is None else stream)
    handler.setFormatter(_Redacting(JsonFormatter() if formatter is None else formatter))
    handler.addFilter(_not_a_rebalance_heartbeat)
    if keep is not None:
        handler.addFilter(keep)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiokafka's INFO lines narrate every group join; its warnings and errors still show.
    logging.getLogger("aiokafka").setLevel("DEBUG" if level == "DEBUG" else "WARNING")
    if level == "DEBUG":
        for name in _REQUEST_LOGGERS:
            logging.getLogger(name).setLevel("INFO")


class KeyHashes:
    """Digests that follow one key through the logs without revealing it: BLAKE2b keyed with
    KEY_HASH_SECRET, so equal keys give equal hashes within a deployment, and a key cannot be
    found from its hash by trying candidates (an unkeyed hash of `cust-482913` falls to a
    brute force in a third of a second). Without a secret, a random one per process: hashes
    then match within one task only.

    For a key: `python -c 'import hashlib, sys; print(hashlib.blake2b(sys.argv[1].encode(),
    key=sys.argv[2].encode(), digest_size=8).hexdigest())' '<key>' '<secret>'`.
    """

    def __init__(self, secret: str | None) -> None:
        self._secret = secrets.token_bytes(32) if secret is None else secret.encode()

    def of(self, key: bytes | None) -> str | None:
        if key is None:
            return None
        return hashlib.blake2b(key, key=self._secret[:64], digest_size=8).hexdigest()
