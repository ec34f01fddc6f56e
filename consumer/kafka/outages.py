"""Broker outages in two log lines, not thousands.

While no broker answers, aiokafka logs an ERROR for every failed connection, metadata
request, fetch and coordinator lookup: about 3,600 lines in two outages of 10 to 20 s,
which page operators and fill log bills. `BrokerOutages`, a filter on the log handlers,
turns them into one WARNING when the first appears and one when a broker answers again,
with how long it lasted and how many errors it held back.

Invariants:
- a connection error of aiokafka's (`CONNECTION_ERRORS`) is never written on its own: the
  first opens an outage, the others are counted in it;
- an outage closes when the bridge has heard from a broker (a fetch response for a
  partition it owns: `heard_from_brokers`) after the last connection error, and no error has
  come for QUIET_S since: a broker shutting down still answers a request or two between its
  refusals, and that is no recovery;
- every other line passes as it was, at its own level: a rejected password, a missing topic
  or a group the ACLs deny are never held back.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Final

# aiokafka's messages (their format strings) for a broker that cannot be reached. Matched
# exactly: a new message in a later aiokafka is let through, not swallowed.
CONNECTION_ERRORS: Final = frozenset(
    {
        'Unable connect to "%s:%s": %s',
        "Unable connect to node with id %s: %s",
        'Unable to request metadata from "%s:%s": %s',
        "Unable to request metadata from node with id %s: %r",
        "Unable to update metadata from %s",
        "Group Coordinator Request failed: %s",
        "Heartbeat send request failed: %s. Will retry.",
        "Failed fetch messages from %s: %s",
        "Failed fetch offsets from %s: %s",
        # The group coordinator is a broker too: losing it is the same outage.
        "Error sending %s to node %s [%s] -- marking coordinator dead",
        "Marking the coordinator dead (node %s)for group %s.",
        "Heartbeat failed for group %s: coordinator (node %s) is either not started or not valid",
        "Heartbeat session expired - marking coordinator dead",
    }
)

# aiokafka retries a connection within a second (its backoffs are 50 to 100 ms), so this long
# without an error, and a broker's answer meanwhile, is an outage over.
QUIET_S: Final = 2.0

log = logging.getLogger("consumer.kafka")


class BrokerOutages(logging.Filter):
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._clock = clock
        self.started_at: float | None = None  # wall-clock seconds; None: no outage open
        self.last_error_at = 0.0  # wall-clock seconds of the open outage's latest error
        self.held_back = 0  # connection errors counted, not written, in the open outage
        # Each handler asks about the same record in turn: it is counted once.
        self._last_seen: logging.LogRecord | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiokafka") or record.msg not in CONNECTION_ERRORS:
            return True
        if record is self._last_seen:
            return False
        self._last_seen = record
        self.last_error_at = self._clock()
        if self.started_at is None:
            self.started_at = self.last_error_at
            self.held_back = 0
            log.warning(
                "Kafka brokers unreachable; their connection errors are counted until one "
                "answers again",
                extra={"fields": {"first_error": record.getMessage()[:300]}},
            )
        self.held_back += 1
        return False

    def heard_from_brokers(self, at: float) -> None:
        """A broker last answered at `at` (wall-clock seconds): the open outage closes if
        that was after its last error, and the errors have stopped."""
        if self.started_at is None or at <= self.last_error_at:
            return
        if self._clock() - self.last_error_at < QUIET_S:
            return
        outage_s, held_back = at - self.started_at, self.held_back
        self.started_at, self.held_back = None, 0
        log.warning(
            "Kafka brokers reachable again",
            extra={"fields": {"outage_s": round(outage_s, 1), "connection_errors": held_back}},
        )

    @contextlib.contextmanager
    def installed(self) -> Iterator[BrokerOutages]:
        """On every handler of the root logger while the block runs. An outage still open at
        the end is said."""
        handlers = list(logging.getLogger().handlers)
        for handler in handlers:
            handler.addFilter(self)
        try:
            yield self
        finally:
            for handler in handlers:
                handler.removeFilter(self)
            if self.started_at is not None:
                log.warning(
                    "Kafka brokers still unreachable when the bridge stopped",
                    extra={
                        "fields": {
                            "outage_s": round(self._clock() - self.started_at, 1),
                            "connection_errors": self.held_back,
                        }
                    },
                )
