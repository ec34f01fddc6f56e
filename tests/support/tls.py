"""Throwaway certificate authorities: the broker's certificate for the TLS test listeners,
and client certificates for the mutual-TLS one (one from the broker's CA, one from a CA the
broker does not know)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography.hazmat.primitives import serialization

BROKER_HOSTS = ("127.0.0.1", "localhost")
CLIENT_NAME = "bridge-client"  # the mutual-TLS principal (its certificate's common name)


@dataclass(frozen=True)
class ClientCertificate:
    certificate_pem: Path
    key_pem: Path


@dataclass(frozen=True)
class BrokerTls:
    ca_pem: Path  # what clients trust (the bridge's KAFKA_SSL_CA_FILE)
    broker_keystore_pem: Path  # PKCS#8 key + certificate chain, Kafka's PEM keystore format
    client: ClientCertificate  # issued by the broker's CA: the mutual-TLS listener accepts it
    stranger: ClientCertificate  # issued by another CA: refused


def _pkcs8(key_pem: bytes) -> bytes:
    # Kafka's PEM keystore reads only PKCS#8 keys; trustme writes the traditional form.
    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _client(ca: trustme.CA, folder: Path, name: str) -> ClientCertificate:
    leaf = ca.issue_cert(f"{name}.example", common_name=CLIENT_NAME)
    certificate, key = folder / f"{name}.crt.pem", folder / f"{name}.key.pem"
    certificate.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    key.chmod(0o600)
    return ClientCertificate(certificate, key)


def make_broker_tls(folder: Path) -> BrokerTls:
    ca = trustme.CA()
    leaf = ca.issue_cert(*BROKER_HOSTS, key_type=trustme.KeyType.RSA)
    folder.mkdir(parents=True, exist_ok=True)
    keystore = folder / "broker-keystore.pem"
    keystore.write_bytes(
        _pkcs8(leaf.private_key_pem.bytes()) + b"".join(b.bytes() for b in leaf.cert_chain_pems)
    )
    ca_pem = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    return BrokerTls(
        ca_pem=ca_pem,
        broker_keystore_pem=keystore,
        client=_client(ca, folder, "client"),
        stranger=_client(trustme.CA(), folder, "stranger"),
    )
