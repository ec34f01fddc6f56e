"""Connecting to Kafka: every client's arguments (address, TLS, credentials or tokens), and
the checks after joining that name the setting to fix (missing topics, denied groups).
The first connection is checked by consumer/kafka/probe.py.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from aiokafka.helpers import create_ssl_context

from consumer.errors import KafkaStartupError
from consumer.kafka.tokens import (
    CachedTokenProvider,
    TokenUnavailableError,
    msk_iam_region,
    msk_iam_signer,
    oidc_client_credentials,
)
from consumer.settings.failures import parse_dlq
from consumer.settings.kafka import SaslMechanism, SecurityProtocol
from consumer.settings.model import BridgeSettings
from consumer.settings.pem import as_file

_TLS = (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)


def ssl_context(settings: BridgeSettings) -> ssl.SSLContext | None:
    """The TLS context every client of the bridge uses (None: no TLS)."""
    if settings.kafka_security_protocol not in _TLS:
        return None
    ca_file = str(settings.kafka_ssl_ca_file) if settings.kafka_ssl_ca_file else None
    certificate, key = settings.kafka_ssl_certificate, settings.kafka_ssl_key
    password = settings.kafka_ssl_key_password
    return _tls_context(
        ca_file,
        None if certificate is None else certificate.get_secret_value(),
        None if key is None else key.get_secret_value(),
        None if password is None else password.get_secret_value(),
    )


@functools.cache
def _tls_context(
    ca_file: str | None, certificate: str | None, key: str | None, password: str | None
) -> ssl.SSLContext:
    """One context per configuration: PEM text becomes a private file once, not per call."""
    if certificate is None or key is None:
        plain: ssl.SSLContext = create_ssl_context(cafile=ca_file)
        return plain
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=ca_file, certfile=as_file(certificate), keyfile=as_file(key), password=password
        )
    except ssl.SSLError as bad:
        raise KafkaStartupError(
            f"KAFKA_SSL_CERTIFICATE/KAFKA_SSL_KEY: the client certificate cannot be used "
            f"({bad.reason or bad}): the key must be the certificate's own, in PEM, and "
            "KAFKA_SSL_KEY_PASSWORD must open it if it is encrypted."
        ) from None
    return context


def credentials(settings: BridgeSettings) -> dict[str, Any]:
    """The SASL arguments every client of the bridge uses (none without SASL)."""
    if not settings.kafka_security_protocol.startswith("SASL_"):
        return {}
    mechanism = settings.kafka_sasl_mechanism
    if mechanism.takes_password:
        assert settings.kafka_password is not None  # the settings check guarantees it
        return {
            "sasl_mechanism": mechanism.value,
            "sasl_plain_username": settings.kafka_username,
            "sasl_plain_password": settings.kafka_password.get_secret_value(),
        }
    return {"sasl_mechanism": "OAUTHBEARER", "sasl_oauth_token_provider": token_provider(settings)}


def token_provider(settings: BridgeSettings) -> CachedTokenProvider:
    """The process's one token provider for these settings (every client shares its token)."""
    if settings.kafka_sasl_mechanism is SaslMechanism.AWS_MSK_IAM:
        region = msk_iam_region(settings.kafka_bootstrap_servers, settings.aws_region)
        if region is None:
            raise TokenUnavailableError(
                "AWS_REGION: set the region of the MSK cluster (the broker host names do not "
                "say it)."
            )
        return _msk_iam_provider(region)
    assert settings.kafka_oauth_token_url is not None  # the settings check guarantees these
    assert settings.kafka_oauth_client_id is not None
    assert settings.kafka_oauth_client_secret is not None
    return _oidc_provider(
        settings.kafka_oauth_token_url,
        settings.kafka_oauth_client_id,
        settings.kafka_oauth_client_secret.get_secret_value(),
        settings.kafka_oauth_scope,
        tuple(sorted(settings.kafka_oauth_extensions.items())),
    )


@functools.cache
def _msk_iam_provider(region: str) -> CachedTokenProvider:
    return CachedTokenProvider(msk_iam_signer(region))


@functools.cache
def _oidc_provider(
    url: str,
    client_id: str,
    secret: str,
    scope: str | None,
    extensions: tuple[tuple[str, str], ...],
) -> CachedTokenProvider:
    return CachedTokenProvider(
        oidc_client_credentials(url, client_id, secret, scope), dict(extensions)
    )


def client_arguments(settings: BridgeSettings) -> dict[str, Any]:
    """Where and how every Kafka client of the bridge connects (consumer, producer, admin)."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol.value,
        "ssl_context": ssl_context(settings),
        **credentials(settings),
    }


HEARTBEAT_INTERVAL_MS = 1000


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
        # A member learns of a rebalance at its next heartbeat: every second, not aiokafka's
        # three, so a membership change reaches every member sooner (a request a second).
        "heartbeat_interval_ms": HEARTBEAT_INTERVAL_MS,
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


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


async def check_topics_exist(consumer: AIOKafkaConsumer, settings: BridgeSettings) -> None:
    """Named topics must exist; a pattern may match none yet (topics created later join)."""
    existing = await consumer.topics()
    missing = [topic for topic in settings.kafka_topic or [] if topic not in existing]
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
    if settings.kafka_sasl_mechanism is SaslMechanism.AWS_MSK_IAM and (
        isinstance(error, GroupAuthorizationFailedError | TopicAuthorizationFailedError)
    ):
        return _missing_msk_permission(error, settings)
    if isinstance(error, GroupAuthorizationFailedError):
        return KafkaStartupError(
            f"KAFKA_GROUP_ID: the broker does not allow group {settings.kafka_group_id!r} for "
            "this user. Use the group id its ACLs allow (on Confluent Cloud: the one granted "
            "to the API key)."
        )
    if isinstance(error, TopicAuthorizationFailedError):
        return KafkaStartupError(
            f"KAFKA_TOPIC: this user may not read {settings.topics_description}. Grant it "
            "READ on the topic."
        )
    return KafkaStartupError(f"Kafka refused the consumer: {_reason(error)}")


def _missing_msk_permission(error: KafkaError, settings: BridgeSettings) -> KafkaStartupError:
    """MSK's IAM access control answers a missing permission as a Kafka authorization error."""
    if isinstance(error, GroupAuthorizationFailedError):
        return KafkaStartupError(
            f"KAFKA_GROUP_ID: the task's IAM role may not use group {settings.kafka_group_id!r}: "
            "grant it kafka-cluster:DescribeGroup and kafka-cluster:AlterGroup on the group's "
            "ARN (arn:aws:kafka:<region>:<account>:group/<cluster>/<cluster uuid>/<group>)."
        )
    return KafkaStartupError(
        f"KAFKA_TOPIC: the task's IAM role may not read {settings.topics_description}: grant it "
        "kafka-cluster:DescribeTopic and kafka-cluster:ReadData on the topic's ARN "
        "(arn:aws:kafka:<region>:<account>:topic/<cluster>/<cluster uuid>/<topic>)."
    )
