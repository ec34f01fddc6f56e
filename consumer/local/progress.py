"""What the local mode shows while it runs: one refreshing line on a terminal, a plain line
every few seconds otherwise (a pipe, a file, a test).

`Terminal` owns standard output for the run: messages, the bridge's log lines and what
the handler prints go through it (from any thread), so they never land in the middle of
the refreshing line.
"""

from __future__ import annotations

import io
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TextIO

PLAIN_INTERVAL_S = 2.0  # between plain lines when standard output is not a terminal
_RATE_WINDOW_S = 3.0  # the rate shown is over the last few seconds
_CLEAR_LINE = "\r\x1b[K"


@dataclass(frozen=True)
class Progress:
    elapsed_s: float
    done: int  # delivered, dead-lettered or filtered: the records the bridge has finished with
    dead_lettered: int
    in_flight: int  # invocations the function is running
    retries: int
    target: int | None  # records produced by this run, when it produced any
    lag: int | None  # records past the group's committed offsets; None when unknown
    filtered: int | None = None  # matched no FILTER_PATTERNS pattern; None: no filtering


class RateMeter:
    """Records per second over the last few seconds of samples."""

    def __init__(self, window_s: float = _RATE_WINDOW_S) -> None:
        self._window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()

    def rate(self, at_s: float, count: int) -> float:
        self._samples.append((at_s, count))
        while len(self._samples) > 2 and at_s - self._samples[1][0] >= self._window_s:
            self._samples.popleft()
        first_s, first_count = self._samples[0]
        return 0.0 if at_s <= first_s else (count - first_count) / (at_s - first_s)


def progress_line(progress: Progress, rate_per_s: float) -> str:
    done = f"{progress.done:,}"
    if progress.target:
        percent = min(100, 100 * progress.done // progress.target)
        done = f"{done}/{progress.target:,} done ({percent}%)"
    else:
        done = f"{done} done"
    lag = "?" if progress.lag is None else f"{progress.lag:,}"
    filtered = "" if progress.filtered is None else f"  filtered {progress.filtered:,}"
    return (
        f"{progress.elapsed_s:5.1f} s  {done}  {rate_per_s:,.0f} records/s  lag {lag}  "
        f"in flight {progress.in_flight}  retries {progress.retries}  "
        f"dead-lettered {progress.dead_lettered}{filtered}"
    )


class Terminal:
    """Standard output for one run: the progress line, and whole lines above it."""

    def __init__(self, out: TextIO, live: bool) -> None:
        self._out = out
        self.live = live  # a terminal: the progress line refreshes in place
        self._line = ""  # the progress line on screen (live only)
        self._last_plain_s: float | None = None
        self._rate = RateMeter()
        self._lock = threading.Lock()  # handler threads print too

    def say(self, text: str) -> None:
        """Writes whole lines above the progress line."""
        with self._lock:
            if self.live and self._line:
                self._out.write(_CLEAR_LINE)
            self._out.write(text if text.endswith("\n") else text + "\n")
            if self.live and self._line:
                self._out.write(self._line)
            self._out.flush()

    def show(self, progress: Progress, force: bool = False) -> None:
        """Refreshes the live line; or, not live, prints a line every PLAIN_INTERVAL_S."""
        now_s = time.monotonic()
        line = progress_line(progress, self._rate.rate(now_s, progress.done))
        if self.live:
            with self._lock:
                self._line = line
                self._out.write(_CLEAR_LINE + line)
                self._out.flush()
        elif force or self._last_plain_s is None or now_s - self._last_plain_s >= PLAIN_INTERVAL_S:
            self._last_plain_s = now_s
            self.say(line)

    def end_progress(self) -> None:
        """Leaves the live line on screen as it is, and moves below it."""
        with self._lock:
            if self.live and self._line:
                self._out.write("\n")
                self._out.flush()
            self._line = ""

    def stream(self) -> LineStream:
        """A text stream (for sys.stdout, a logging handler) whose lines go above the
        progress line."""
        return LineStream(self)


class LineStream(io.TextIOBase):
    """Collects what is written until a newline, then has the terminal show the line(s).
    print() writes its text and its newline in two calls: this keeps them one line."""

    def __init__(self, terminal: Terminal) -> None:
        self._terminal = terminal
        self._pending = threading.local()  # a partial line per thread: never interleaved

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        pending: str = getattr(self._pending, "text", "") + text
        complete, newline, rest = pending.rpartition("\n")
        if newline:
            self._terminal.say(complete + newline)
        self._pending.text = rest
        return len(text)
