"""The aiokafka consumer arguments `KAFKA_PROPERTIES` may set, with their types, and those the
bridge sets itself.

A table rather than a look at `AIOKafkaConsumer.__init__`, so that the settings (and the
Pulumi program, which validates with them) need no aiokafka; a test holds it to the pinned
aiokafka's signature.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Final

# aiokafka consumer arguments the bridge sets itself, and the setting to use instead.
OWNED_KAFKA_ARGUMENTS: Final[Mapping[str, str]] = {
    "topics": "KAFKA_TOPIC",
    "bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
    "group_id": "KAFKA_GROUP_ID",
    "security_protocol": "KAFKA_SECURITY_PROTOCOL",
    "sasl_mechanism": "KAFKA_SASL_MECHANISM",
    "sasl_plain_username": "KAFKA_USERNAME",
    "sasl_plain_password": "KAFKA_PASSWORD",
    "ssl_context": "KAFKA_SSL_CA_FILE",
    "auto_offset_reset": "KAFKA_STARTING_POSITION",
    "enable_auto_commit": "nothing: the bridge commits only what was delivered",
    "auto_commit_interval_ms": "COMMIT_INTERVAL_MS",
    "key_deserializer": "nothing: records reach the function as bytes",
    "value_deserializer": "nothing: records reach the function as bytes",
    "loop": "nothing",
    "api_version": "nothing: it is negotiated",
    "partition_assignment_strategy": "nothing: not settable from JSON",
    "sasl_oauth_token_provider": "nothing: not settable from JSON",
}
# Every other argument of AIOKafkaConsumer, and the JSON type its value must have.
KAFKA_ARGUMENT_TYPES: Final[Mapping[str, type]] = {
    "client_id": str,
    "group_instance_id": str,
    "fetch_max_wait_ms": int,
    "fetch_max_bytes": int,
    "fetch_min_bytes": int,
    "max_partition_fetch_bytes": int,
    "request_timeout_ms": int,
    "retry_backoff_ms": int,
    "check_crcs": bool,
    "metadata_max_age_ms": int,
    "max_poll_interval_ms": int,
    "rebalance_timeout_ms": int,
    "session_timeout_ms": int,
    "heartbeat_interval_ms": int,
    "consumer_timeout_ms": int,
    "max_poll_records": int,
    "exclude_internal_topics": bool,
    "connections_max_idle_ms": int,
    "isolation_level": str,
    "sasl_kerberos_service_name": str,
    "sasl_kerberos_domain_name": str,
    "client_rack": str,
}


def check_kafka_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The properties, if each names a settable argument with a value of its type."""
    checked = {}
    for name, value in properties.items():
        if name in OWNED_KAFKA_ARGUMENTS:
            raise ValueError(f"{name!r} is set by the bridge; set {OWNED_KAFKA_ARGUMENTS[name]}")
        expected = KAFKA_ARGUMENT_TYPES.get(name)
        if expected is None:
            close = difflib.get_close_matches(name, KAFKA_ARGUMENT_TYPES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"unknown aiokafka consumer setting {name!r}{hint}; known: "
                + ", ".join(sorted(KAFKA_ARGUMENT_TYPES))
            )
        # JSON has no int/bool confusion to forgive: True is not a number of milliseconds.
        if type(value) is not expected:
            raise ValueError(f"{name!r} must be a {expected.__name__}, not {value!r}")
        checked[name] = value
    return checked
