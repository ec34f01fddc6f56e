"""What the local mode shows while it runs: one refreshing line on a terminal, a plain line
every few seconds otherwise (a pipe, a file, a test).

`Terminal` owns standard output for the run: messages, the bridge's log lines and what
the handler prints go through it (from any thread), so they never land in the middle of
the refreshing line.
"""

from __future__ import annotations

import io
import shutil
import threading
import time
from dataclasses import dataclass
from typing import TextIO

PLAIN_INTERVAL_S = 2.0  # between plain lines when standard output is not a terminal
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
    rate_per_s: float | None = None  # records_per_s(): the summary's rate, as of now
    note: str | None = None  # what the run is doing now, when that is not delivering


def progress_line(progress: Progress, width: int | None = None) -> str:
    """The fields in a fixed order; with `width` (a terminal's columns), those that matter
    least are left out until the line fits in one row less a column, so the cursor never
    wraps and each refresh overwrites the last."""
    done = f"{progress.done:,}"
    if progress.target:
        percent = min(100, 100 * progress.done // progress.target)
        done = f"{done}/{progress.target:,} done ({percent}%)"
    else:
        done = f"{done} done"
    lag = "?" if progress.lag is None else f"{progress.lag:,}"
    rate = "… records/s" if progress.rate_per_s is None else f"{progress.rate_per_s:,.0f} records/s"
    fields = [  # (text, how much it matters: the highest number is left out first)
        (f"{progress.elapsed_s:5.1f} s", 0),
        (done, 0),
        (rate, 1),
        (f"lag {lag}", 3),
        (f"in flight {progress.in_flight}", 4),
        (f"retries {progress.retries}", 5),
        (f"dead-lettered {progress.dead_lettered}", 2),
    ]
    if progress.filtered is not None:
        fields.append((f"filtered {progress.filtered:,}", 2))
    if progress.note is not None:
        fields.append((progress.note, 1))
    line = "  ".join(text for text, _ in fields)
    if width is None:
        return line
    while len(line) > width - 1 and len(fields) > 2:
        least = max(range(len(fields)), key=lambda i: (fields[i][1], i))
        del fields[least]
        line = "  ".join(text for text, _ in fields)
    return line[: max(width - 1, 0)]


class Terminal:
    """Standard output for one run: the progress line, and whole lines above it."""

    def __init__(self, out: TextIO, live: bool) -> None:
        self._out = out
        self.live = live  # a terminal: the progress line refreshes in place
        self._line = ""  # the progress line on screen (live only)
        self._last_plain_s: float | None = None
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
        width = shutil.get_terminal_size().columns if self.live else None
        self._show_line(progress_line(progress, width), force)

    def show_status(self, text: str, force: bool = False) -> None:
        """As show(), for a line about something other than delivering (producing, say)."""
        if self.live:
            text = text[: max(shutil.get_terminal_size().columns - 1, 0)]
        self._show_line(text, force)

    def clear_progress(self) -> None:
        """Takes the live line off the screen, for whole lines to follow without it."""
        with self._lock:
            if self.live and self._line:
                self._out.write(_CLEAR_LINE)
                self._out.flush()
            self._line = ""
            self._last_plain_s = None  # the next line, whatever it is about, is shown

    def _show_line(self, line: str, force: bool) -> None:
        now_s = time.monotonic()
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
