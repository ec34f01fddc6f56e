"""The handler's errors, shown as they happen: each distinct one once, as Lambda's console
shows a failed test, so a run that dead-letters says why without DEBUG logs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from consumer.local.invocations import Invocation, Outcome

_MAX_MESSAGE_CHARS = 200
_FAILED = frozenset({Outcome.FUNCTION_ERROR, Outcome.TIMEOUT})


def describe(response: Any) -> tuple[str, str]:
    """(errorType, the first line of errorMessage) of Lambda's error object."""
    if not isinstance(response, dict):
        return "Unknown", ""
    message = str(response.get("errorMessage", "")).strip().splitlines()
    first = message[0] if message else ""
    if len(first) > _MAX_MESSAGE_CHARS:
        first = first[: _MAX_MESSAGE_CHARS - 1] + "…"
    return str(response.get("errorType", "Unknown")), first


class HandlerErrors:
    """Listens to the local Lambda (from its thread); says each new (type, message) once.

    Invariant: `_seen` holds every pair said, so none is said twice.
    """

    def __init__(self, function_name: str, say: Callable[[str], None]) -> None:
        self._function_name = function_name
        self._say = say
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def observe(self, invocation: Invocation) -> None:
        if invocation.function_name != self._function_name or invocation.outcome not in _FAILED:
            return
        error = describe(invocation.response)
        with self._lock:
            if error in self._seen:
                return
            self._seen.add(error)
        error_type, message = error
        self._say(f"handler   raised {error_type}" + (f": {message}" if message else ""))

    @property
    def distinct(self) -> int:
        with self._lock:
            return len(self._seen)
