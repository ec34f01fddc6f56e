"""The failures the bridge reports to people: one family per cause, each message with its fix.

`python -m consumer` prints such an error as one line and exits non-zero; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def error_reason(error: BaseException) -> str:
    """An exception as one short line: its type, and its message if it has one."""
    return f"{type(error).__name__}: {error}"[:200] if str(error) else type(error).__name__


class BridgeError(Exception):
    """An expected failure with a message a person can act on."""

    exit_code = 1


class ConfigurationError(BridgeError):
    """A setting is missing or invalid; the message names the environment variable.

    `problems` (consumer.settings.declarations.SettingProblem), when the settings model found them:
    the same findings, for a caller that names settings its own way (the Pulumi program)."""

    exit_code = 2

    def __init__(self, message: str, problems: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class KafkaStartupError(BridgeError):
    """Kafka is unreachable, refuses our credentials, lacks the topic or denies the group."""

    exit_code = 3


class SchemaRegistryStartupError(BridgeError):
    """The schema registry is unreachable at start-up, or refuses the credentials or role."""

    exit_code = 3  # as for Kafka: a dependency the bridge cannot start without


class LambdaStartupError(BridgeError):
    """The function is missing, or this identity may not invoke it."""

    exit_code = 4


class FatalInvokeError(BridgeError):
    """Lambda rejected an invocation in a way no retry can fix (deleted, access revoked)."""

    exit_code = 5
