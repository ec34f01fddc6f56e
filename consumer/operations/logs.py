"""The one logger setup: JSON lines on stdout, one object per line.

Fields go in `extra={"fields": {...}}`. Record contents and secrets never go in a log
line: counts, offsets and key hashes do (`key_hash`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
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


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_not_a_rebalance_heartbeat)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiokafka's INFO lines narrate every group join; its warnings and errors still show.
    logging.getLogger("aiokafka").setLevel("DEBUG" if level == "DEBUG" else "WARNING")


def key_hash(key: bytes | None) -> str | None:
    """A short stable digest that identifies a key in logs without revealing it."""
    if key is None:
        return None
    return hashlib.blake2b(key, digest_size=6).hexdigest()
