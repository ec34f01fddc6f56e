"""The start-up probe: one connection to a bootstrap broker, opened and used before the
consumer starts, so that every way it can fail becomes one error naming the setting to fix.

aiokafka folds every bootstrap failure into "Unable to bootstrap", hides TLS alerts inside
"Connection closed", and does not notice when a broker refuses an OAUTHBEARER token (the
refusal is an RFC 7628 error challenge it takes for success). The probe therefore asks the
broker for its metadata over the authenticated connection: only a real answer is success.

Brokers that do not answer (a timeout) are retried until KAFKA_CONNECT_TIMEOUT_SECONDS.
When every broker refuses the connection or its host name is unknown, that is tried again
for a few seconds only (a broker restarting, a DNS record appearing), then named: the full
budget would only make a wrong port or a typo wait. A broker that answers and refuses the
TLS handshake, the certificate, the credentials or the token fails at once, since waiting
cannot fix that.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from typing import Final

from aiokafka.conn import create_conn
from aiokafka.errors import (
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.metadata import MetadataRequest

from consumer.errors import KafkaStartupError
from consumer.kafka.connection import credentials, ssl_context
from consumer.kafka.tokens import TokenUnavailableError
from consumer.settings.kafka import SaslMechanism, broker_addresses
from consumer.settings.model import BridgeSettings

_PROBE_TIMEOUT_MS: Final = 10_000
# How long every broker may refuse connections or have an unknown host before that is said.
_REFUSED_FOR_S: Final = 5.0
# TLS alerts a broker sends when it does not accept the client's certificate (or its lack).
_CERTIFICATE_ALERTS: Final = (
    "ALERT_BAD_CERTIFICATE",
    "ALERT_CERTIFICATE_REQUIRED",
    "ALERT_CERTIFICATE_UNKNOWN",
    "ALERT_UNKNOWN_CA",
    "ALERT_CERTIFICATE_EXPIRED",
    "ALERT_HANDSHAKE_FAILURE",
)


class _NoMetadata(Exception):
    """The broker sent no metadata over a connection aiokafka thought authenticated."""


async def probe_brokers(
    settings: BridgeSettings, servers_named: str = "KAFKA_BOOTSTRAP_SERVERS"
) -> None:
    """Returns once one bootstrap broker accepts a connection with our credentials.
    `servers_named`: what the user set the brokers with, as the errors name it."""
    servers = [
        (host.strip("[]"), port)
        for host, port in broker_addresses(settings.kafka_bootstrap_servers)
    ]
    started = time.monotonic()
    deadline = started + settings.kafka_connect_timeout_seconds
    last_problem = "no attempt made"
    while True:
        refused: list[str] = []  # this round's brokers that refused or have no address
        for host, port in servers:
            try:
                await _probe_one(host, port, settings)
            except TokenUnavailableError:
                raise
            except (TimeoutError, OSError, KafkaError, _NoMetadata) as problem:
                refusal = _explain_refusal(problem, f"{host}:{port}", settings)
                if refusal is not None:
                    raise refusal from None
                last_problem = f"{host}:{port}: {_reason(problem)}"
                if isinstance(problem, ConnectionRefusedError | socket.gaierror):
                    refused.append(_refused(problem, host, port))
            else:
                return
        if len(refused) == len(servers) and time.monotonic() - started >= _REFUSED_FOR_S:
            raise KafkaStartupError(
                f"{servers_named}: {'; '.join(refused)} (for "
                f"{time.monotonic() - started:.0f} s). Check the host names and ports."
            )
        if time.monotonic() >= deadline:
            raise KafkaStartupError(
                f"{servers_named}: no broker answered within "
                f"{settings.kafka_connect_timeout_seconds:.0f} s (last: {last_problem}). Check "
                "the address, the port, KAFKA_SECURITY_PROTOCOL and the network path."
            )
        # Nothing to wait on but time: brokers may still be starting.
        await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


async def _probe_one(host: str, port: int, settings: BridgeSettings) -> None:
    conn = await create_conn(
        host,
        port,
        request_timeout_ms=_PROBE_TIMEOUT_MS,
        ssl_context=ssl_context(settings),
        security_protocol=settings.kafka_security_protocol.value,
        **credentials(settings),
    )
    try:
        answer = await conn.send(MetadataRequest(topics=[]))
    finally:
        conn.close()
    if not answer.brokers:  # what aiokafka makes of a refused OAUTHBEARER token
        raise _NoMetadata("the broker answered without metadata: authentication refused")


def _explain_refusal(
    problem: BaseException, where: str, settings: BridgeSettings
) -> KafkaStartupError | None:
    """The one-line error for a refusal no retry can fix; None for a passing problem."""
    mechanism = settings.kafka_sasl_mechanism
    tokens = settings.kafka_security_protocol.startswith("SASL_") and not mechanism.takes_password
    if isinstance(problem, SaslAuthenticationFailed):
        if tokens:
            return _token_refused(where, settings, _reason(problem))
        return KafkaStartupError(
            f"KAFKA_USERNAME/KAFKA_PASSWORD: {where} rejected the credentials "
            f"({_reason(problem)}). Check the user name and password (API key and secret)."
        )
    if isinstance(problem, UnsupportedSaslMechanismError):
        return KafkaStartupError(
            f"KAFKA_SASL_MECHANISM: {where} does not accept {mechanism} ({_reason(problem)})."
        )
    tls = _tls_failure(problem)
    if tls is not None:
        return _tls_refused(tls, where, settings)
    if tokens and isinstance(problem, _NoMetadata):
        return _token_refused(where, settings, "the broker refused the token")
    return None


def _tls_failure(problem: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a failure, where aiokafka wrapped it."""
    for cause in (problem, problem.__cause__, problem.__context__):
        if isinstance(cause, ssl.SSLError):
            return cause
    return None


def _tls_refused(tls: ssl.SSLError, where: str, settings: BridgeSettings) -> KafkaStartupError:
    reason = tls.reason or str(tls)
    if any(alert in reason for alert in _CERTIFICATE_ALERTS):
        if settings.kafka_ssl_certificate is None:
            return KafkaStartupError(
                f"KAFKA_SSL_CERTIFICATE/KAFKA_SSL_KEY: {where} wants a client certificate "
                f"(mutual TLS; the broker said {reason}). Set both, from a CA the broker trusts."
            )
        return KafkaStartupError(
            f"KAFKA_SSL_CERTIFICATE: {where} refused the client certificate ({reason}). It "
            "must be issued by a CA the broker trusts, and be valid today."
        )
    return KafkaStartupError(
        f"KAFKA_SECURITY_PROTOCOL/KAFKA_SSL_CA_FILE: the TLS handshake with {where} failed "
        f"({reason}). Check that the listener speaks TLS and that its certificate is signed "
        "by a CA you trust."
    )


def _token_refused(where: str, settings: BridgeSettings, reason: str) -> KafkaStartupError:
    if settings.kafka_sasl_mechanism is SaslMechanism.AWS_MSK_IAM:
        return KafkaStartupError(
            f"KAFKA_SASL_MECHANISM=AWS_MSK_IAM: {where} refused the IAM token ({reason}). The "
            "task's role needs kafka-cluster:Connect on the cluster, and the cluster must "
            "have IAM access control on (port 9098)."
        )
    return KafkaStartupError(
        f"KAFKA_OAUTH_CLIENT_ID/KAFKA_OAUTH_TOKEN_URL: {where} refused the OAuth token "
        f"({reason}). Check that the broker trusts this token endpoint's issuer, and the "
        "client's scope and audience (KAFKA_OAUTH_SCOPE)."
    )


def _refused(problem: OSError, host: str, port: int) -> str:
    if isinstance(problem, socket.gaierror):
        return f"{host} is not a host name the resolver knows ({problem.strerror})"
    return f"{host}:{port} refused the connection (nothing listens there)"


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__
