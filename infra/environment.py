"""The container's environment: the one place that turns stack settings into the bridge's
variables.

The bridge reads each setting from the variable named after its field of
`consumer.settings.BridgeSettings`, upper-cased. This program runs without the consumer's
dependencies, so it cannot import that class; instead the tests check every name here
against it, and feed the environment the stacks render to `consumer.settings.load_settings`.
The password is not here: it reaches the container only through the task definition's
`secrets`, from the SSM parameter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from infra.settings import StackSettings

# The BridgeSettings field the password goes to (through `secrets`, never `environment`).
PASSWORD_FIELD: Final = "kafka_password"

# What the bridge assumes when a variable is absent. A setting equal to it is left out of
# the environment, so the task definition shows only what the stack chose.
CONSUMER_DEFAULTS: Final[Mapping[str, str | int | bool]] = {
    "kafka_security_protocol": "PLAINTEXT",
    "kafka_sasl_mechanism": "PLAIN",
    "kafka_starting_position": "earliest",
    "payload_format": "native",
    "ordering": "key",
    "max_in_flight_per_partition": 2,
    "max_in_flight_total": 100,
    "batch_size": 100,
    "max_retries": 3,
    "shutdown_timeout_seconds": 30,
    "log_level": "INFO",
    "bisect_on_error": True,
}


def env_name(field: str) -> str:
    """The variable of a BridgeSettings field (the same rule as consumer.settings.env_name)."""
    return field.upper()


def bridge_settings(
    settings: StackSettings, dead_letters: str, metrics_service: str
) -> dict[str, object]:
    """The bridge's settings this stack sets, by BridgeSettings field; None means unset."""
    return {
        "kafka_bootstrap_servers": settings.bootstrap_servers,
        "kafka_topic": settings.topic,
        "kafka_group_id": settings.group_id,
        "kafka_security_protocol": settings.security_protocol,
        "kafka_sasl_mechanism": settings.sasl_mechanism,
        "kafka_username": settings.username,
        "kafka_starting_position": settings.starting_position,
        "kafka_properties": settings.kafka_properties or None,
        "lambda_function_name": settings.lambda_function_name,
        "lambda_qualifier": settings.lambda_qualifier,
        "payload_format": settings.payload_format,
        "ordering": settings.ordering,
        "max_in_flight_per_partition": settings.max_in_flight_per_partition,
        "max_in_flight_total": settings.max_in_flight_total,
        "batch_size": settings.batch_size,
        "max_retries": settings.max_retries,
        "shutdown_timeout_seconds": settings.shutdown_timeout_seconds,
        "log_level": settings.log_level,
        "dlq": dead_letters,
        "on_failure": settings.on_failure,
        "bisect_on_error": settings.bisect_on_error,
        "max_record_age_seconds": settings.max_record_age_seconds,
        # The Service dimension of the metrics: the dashboard and alarms select by it.
        "metrics_service": metrics_service,
    }


def container_environment(
    settings: StackSettings, dead_letters: str, metrics_service: str
) -> dict[str, str]:
    """Variable → value for the task definition's `environment`."""
    environment = {}
    for field, value in bridge_settings(settings, dead_letters, metrics_service).items():
        if value is None or (field in CONSUMER_DEFAULTS and value == CONSUMER_DEFAULTS[field]):
            continue
        environment[env_name(field)] = _render(value)
    return environment


def _render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)
