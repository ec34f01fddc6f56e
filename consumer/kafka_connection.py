"""Connecting to Kafka: the aiokafka consumer's settings, and start-up checks that turn
every way a connection can fail into one error naming the setting to fix.

aiokafka folds every bootstrap failure into "Unable to bootstrap"; so before the consumer
starts, `probe_brokers` opens one connection itself, which raises the real cause
(refused, TLS, credentials).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.conn import create_conn
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    UnsupportedSaslMechanismError,
)
from aiokafka.helpers import create_ssl_context

from consumer.errors import KafkaStartupError
from consumer.settings import BridgeSettings, SecurityProtocol, parse_dlq

_PROBE_TIMEOUT_MS = 10_000
_TLS = (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)


def _ssl_context(settings: BridgeSettings) -> ssl.SSLContext | None:
    if settings.kafka_security_protocol not in _TLS:
        return None
    ca_file = str(settings.kafka_ssl_ca_file) if settings.kafka_ssl_ca_file else None
    context: ssl.SSLContext = create_ssl_context(cafile=ca_file)
    return context


def _credentials(settings: BridgeSettings) -> dict[str, Any]:
    if not settings.kafka_security_protocol.startswith("SASL_"):
        return {}
    assert settings.kafka_password is not None  # the settings check guarantees it
    return {
        "sasl_mechanism": settings.kafka_sasl_mechanism.value,
        "sasl_plain_username": settings.kafka_username,
        "sasl_plain_password": settings.kafka_password.get_secret_value(),
    }


def client_arguments(settings: BridgeSettings) -> dict[str, Any]:
    """Where and how every Kafka client of the bridge connects (consumer, producer, admin)."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol.value,
        "ssl_context": _ssl_context(settings),
        **_credentials(settings),
    }


def consumer_arguments(settings: BridgeSettings) -> dict[str, Any]:
    """Keyword arguments of the bridge's AIOKafkaConsumer."""
    return {
        **client_arguments(settings),
        "group_id": settings.kafka_group_id,
        # The bridge commits only offsets whose records were all delivered.
        "enable_auto_commit": False,
        # A timestamp start is applied on assignment; until then "earliest" is the floor.
        "auto_offset_reset": (
            "latest" if settings.kafka_starting_position == "latest" else "earliest"
        ),
        "rebalance_timeout_ms": settings.rebalance_timeout_ms,
        **settings.kafka_properties,
    }


def producer_arguments(settings: BridgeSettings) -> dict[str, Any]:
    """Keyword arguments of the dead-letter producer: same cluster, same credentials."""
    return {
        **client_arguments(settings),
        # A dead letter counts as written only once every in-sync replica has it. Not
        # idempotent: that needs the IdempotentWrite ACL (which a cluster granting one topic
        # and one group may not give) and brokers that support it; a retried send can at
        # worst write a dead letter twice, which at-least-once allows.
        "acks": "all",
        "enable_idempotence": False,
    }


def _split_host_port(server: str) -> tuple[str, int]:
    host, _, port = server.strip().rpartition(":")
    if not host or not port.isdigit():
        raise KafkaStartupError(
            f"KAFKA_BOOTSTRAP_SERVERS: {server!r} is not host:port (e.g. broker.example:9092)."
        )
    return host.strip("[]"), int(port)


async def probe_brokers(settings: BridgeSettings) -> None:
    """Returns once one bootstrap broker accepts a connection with our credentials.

    Refused or unreachable brokers are retried until KAFKA_CONNECT_TIMEOUT_SECONDS; a
    broker that answers and rejects the TLS handshake or the credentials fails at once,
    since waiting cannot fix that.
    """
    servers = [_split_host_port(s) for s in settings.kafka_bootstrap_servers.split(",") if s]
    deadline = time.monotonic() + settings.kafka_connect_timeout_seconds
    last_problem = "no attempt made"
    while True:
        for host, port in servers:
            try:
                conn = await create_conn(
                    host,
                    port,
                    request_timeout_ms=_PROBE_TIMEOUT_MS,
                    ssl_context=_ssl_context(settings),
                    security_protocol=settings.kafka_security_protocol.value,
                    **_credentials(settings),
                )
            except SaslAuthenticationFailed as rejected:
                raise KafkaStartupError(
                    f"KAFKA_USERNAME/KAFKA_PASSWORD: {host}:{port} rejected the credentials "
                    f"({_reason(rejected)}). Check the API key and secret."
                ) from None
            except UnsupportedSaslMechanismError as unsupported:
                raise KafkaStartupError(
                    f"KAFKA_SASL_MECHANISM: {host}:{port} does not accept "
                    f"{settings.kafka_sasl_mechanism} ({_reason(unsupported)})."
                ) from None
            except ssl.SSLError as tls:
                raise KafkaStartupError(
                    f"KAFKA_SECURITY_PROTOCOL/KAFKA_SSL_CA_FILE: the TLS handshake with "
                    f"{host}:{port} failed ({tls.reason or tls}). Check that the listener "
                    "speaks TLS and that its certificate is signed by a CA you trust."
                ) from None
            except (TimeoutError, OSError, KafkaError) as problem:
                last_problem = f"{host}:{port}: {_reason(problem)}"
            else:
                conn.close()
                return
        if time.monotonic() >= deadline:
            raise KafkaStartupError(
                f"KAFKA_BOOTSTRAP_SERVERS: no broker answered within "
                f"{settings.kafka_connect_timeout_seconds:.0f} s (last: {last_problem}). Check "
                "the address, the port, KAFKA_SECURITY_PROTOCOL and the network path."
            )
        # Nothing to wait on but time: brokers may still be starting.
        await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


async def check_topics_exist(consumer: AIOKafkaConsumer, settings: BridgeSettings) -> None:
    existing = await consumer.topics()
    missing = [topic for topic in settings.kafka_topic if topic not in existing]
    if missing:
        raise KafkaStartupError(
            f"KAFKA_TOPIC: topic {', '.join(missing)} does not exist on "
            f"{settings.kafka_bootstrap_servers}, or KAFKA_USERNAME may not describe it. Create "
            "it, or fix the name."
        )
    dlq = parse_dlq(settings.dlq) if settings.dlq else None
    if dlq is not None and dlq.scheme == "kafka" and dlq.target not in existing:
        raise KafkaStartupError(
            f"DLQ: dead-letter topic {dlq.target} does not exist on "
            f"{settings.kafka_bootstrap_servers}. Create it before starting the bridge."
        )


def explain_group_failure(error: KafkaError, settings: BridgeSettings) -> KafkaStartupError:
    """The start-up error for a failure while joining the group or fetching."""
    if isinstance(error, GroupAuthorizationFailedError):
        return KafkaStartupError(
            f"KAFKA_GROUP_ID: the broker does not allow group {settings.kafka_group_id!r} for "
            "this user. Use the group id its ACLs allow (on Confluent Cloud: the one granted "
            "to the API key)."
        )
    if isinstance(error, TopicAuthorizationFailedError):
        return KafkaStartupError(
            f"KAFKA_TOPIC: this user may not read {', '.join(settings.kafka_topic)}. Grant it "
            "READ on the topic."
        )
    return KafkaStartupError(f"Kafka refused the consumer: {_reason(error)}")
