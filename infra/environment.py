"""The container's environment: what the stack chose of the bridge's settings, plus the two
values the deployment itself decides.

No setting is named here one by one: `StackSettings.environment` holds every bridge setting
the stack sets (derived from the declarations in `consumer/settings/`), leaving out values
equal to the bridge's own defaults, so the task definition shows only what the stack chose.
Secrets are not here: they reach the container through the task definition's `secrets`.
"""

from __future__ import annotations

from consumer.settings.model import env_name
from infra.settings import (
    DLQ_OVERFLOW_VARIABLE,
    DLQ_VARIABLE,
    LARGE_RECORDS_VARIABLE,
    StackSettings,
)

# The Service dimension of the metrics: the dashboard and alarms select by it.
METRICS_SERVICE_VARIABLE = env_name("metrics_service")


def container_environment(
    settings: StackSettings,
    dead_letters: str,
    metrics_service: str,
    dead_letter_overflow: str | None = None,
    large_records: str | None = None,
) -> dict[str, str]:
    """Variable → value for the task definition's `environment`; `dead_letter_overflow`
    with an SQS or SNS destination; `large_records`: the claim-check location of a bucket
    the stack created (a named one is in the settings)."""
    overflow = {} if dead_letter_overflow is None else {DLQ_OVERFLOW_VARIABLE: dead_letter_overflow}
    created = {} if large_records is None else {LARGE_RECORDS_VARIABLE: large_records}
    return {
        **settings.environment,
        DLQ_VARIABLE: dead_letters,
        **overflow,
        METRICS_SERVICE_VARIABLE: metrics_service,
        **created,
    }
