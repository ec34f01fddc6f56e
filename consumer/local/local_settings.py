"""The bridge's settings in local mode: the production `load_settings`, given a mapping built
from the environment, `--set NAME=VALUE` flags, and what the local mode decides itself.

Precedence, lowest first: the local mode's defaults (quieter logs, dead letters in a
local directory), the environment, `--set`. The names the local mode owns (where the
broker, topic, group and function are) come from its own flags only, so a production
KAFKA_BOOTSTRAP_SERVERS left in the shell is never used by accident.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

from consumer.local.functions import DEFAULT_REGION
from consumer.settings.model import BridgeSettings, env_name

# Owned names, and where their value comes from instead.
OWNED = {
    "KAFKA_BOOTSTRAP_SERVERS": "--bootstrap",
    "KAFKA_TOPIC": "--topic",
    "KAFKA_GROUP_ID": "--group",
    "LAMBDA_FUNCTION_NAME": "--handler (the function is named after it)",
    "LAMBDA_ENDPOINT_URL": "--lambda-port (the local Lambda's address)",
}
SETTING_NAMES = frozenset(env_name(field) for field in BridgeSettings.model_fields)
# The progress line tells the story: only warnings are logged, and metrics lines (the same
# numbers, for CloudWatch) come once an hour rather than over the live line every minute.
LOCAL_DEFAULTS = {
    "LOG_LEVEL": "WARNING",
    "METRICS_INTERVAL_SECONDS": "3600",
    # A handler that fails shows its dead letter at once, not after production's minutes.
    "RETRY_FUNCTION_ERRORS_FOR_SECONDS": "0",
}


class SettingFlagError(ValueError):
    """A --set flag is malformed, names no setting, or names one the local mode owns."""


def parse_setting(flag: str) -> tuple[str, str]:
    """`NAME=VALUE` → (NAME, VALUE), for a bridge setting the local mode does not own."""
    name, sep, value = flag.partition("=")
    name = name.strip().upper()
    if not sep or not name:
        raise SettingFlagError(f"{flag!r}: write NAME=VALUE, e.g. --set BATCH_SIZE=50")
    if name in OWNED:
        raise SettingFlagError(f"{name}: the local mode sets it; use {OWNED[name]}")
    if name not in SETTING_NAMES:
        close = difflib.get_close_matches(name, sorted(SETTING_NAMES), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise SettingFlagError(
            f"{name}: no such bridge setting; {hint}(docs/settings.md lists them)"
        )
    return name, value


def local_environment(
    *,
    environ: Mapping[str, str],
    flags: Mapping[str, str],
    bootstrap: str,
    topic: str,
    group_id: str,
    function_name: str,
    lambda_url: str,
    local_dlq: Path,
    health_file: Path,
) -> dict[str, str]:
    """The mapping `load_settings` reads in local mode."""
    mapping = {
        **LOCAL_DEFAULTS,
        "AWS_REGION": DEFAULT_REGION,
        "DLQ": f"file://{local_dlq}",
        "HEALTH_FILE": str(health_file),  # one per run: two local runs never share it
    }
    mapping.update(
        {name: value for name, value in environ.items() if name in SETTING_NAMES - OWNED.keys()}
    )
    mapping.update(flags)
    mapping.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_TOPIC": topic,
            "KAFKA_GROUP_ID": group_id,
            "LAMBDA_FUNCTION_NAME": function_name,
            "LAMBDA_ENDPOINT_URL": lambda_url,
        }
    )
    return mapping
