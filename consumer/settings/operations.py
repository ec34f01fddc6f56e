"""The operations settings: log level, the heartbeat, metrics. A group of fields of
`BridgeSettings` (model.py)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, SecretStr, field_validator

from consumer.health.heartbeat import DEFAULT_HEALTH_FILE
from consumer.operations.metrics import DEFAULT_NAMESPACE
from consumer.settings.declarations import setting


class OperationsSettings(BaseModel):
    """What the bridge tells its operators, and how often."""

    log_level: str = setting("INFO", doc="DEBUG, INFO, WARNING or ERROR.", stack="logLevel")
    health_file: Path = setting(
        Path(DEFAULT_HEALTH_FILE),
        doc="Heartbeat file `python -m consumer.health` reads (must be writable).",
    )
    health_interval_seconds: float = setting(
        5.0, gt=0, le=60, doc="How often the heartbeat is written."
    )
    stall_alarm_seconds: float = setting(
        300.0,
        gt=0,
        doc=(
            "Unhealthy when nothing was delivered this long while there is lag and nothing "
            "is in flight."
        ),
    )
    metrics_interval_seconds: float = setting(
        60.0, gt=0, le=3600, doc="How often a metrics (EMF) line is written to stdout."
    )
    metrics_namespace: str = setting(DEFAULT_NAMESPACE, doc="CloudWatch namespace.")
    metrics_service: str = setting(
        "kafka-to-lambda", doc="The `Service` dimension of every metric."
    )
    key_hash_secret: SecretStr | None = setting(
        None,
        doc=(
            "Keys the `key_hash` of log lines (BLAKE2b), so a key cannot be recovered from "
            "its hash. A stack makes one when none is set. Unset: a random one per process."
        ),
        stack="keyHashSecret",
    )

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return value.upper()
