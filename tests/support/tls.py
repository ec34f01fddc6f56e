"""A throwaway certificate authority and broker certificate for the SASL_SSL test listener."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization

BROKER_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class BrokerTls:
    ca_pem: Path  # what clients trust (the bridge's KAFKA_SSL_CA_FILE)
    broker_keystore_pem: Path  # PKCS#8 key + certificate chain, Kafka's PEM keystore format


def make_broker_tls(folder: Path) -> BrokerTls:
    ca = trustme.CA()
    leaf = ca.issue_cert(*BROKER_HOSTS, key_type=trustme.KeyType.RSA)
    # Kafka's PEM keystore reads only PKCS#8 keys; trustme writes the traditional form.
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    folder.mkdir(parents=True, exist_ok=True)
    keystore = folder / "broker-keystore.pem"
    keystore.write_bytes(pkcs8 + b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    ca_pem = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    return BrokerTls(ca_pem=ca_pem, broker_keystore_pem=keystore)
