"""Where a secret may be sent: the URLs of the token endpoint and the schema registry."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def why_no_secret_may_go_to(url: str) -> str | None:
    """None if a secret may travel to `url`; else why not, in a clause. Over https:// only,
    but for a loopback address (tests, the local mode), where http:// never leaves the host;
    and never with credentials in the URL itself, which would show wherever the URL does."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return "it has credentials in it, which would show wherever the URL is shown"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return None
    return (
        "it is not https://, so the secret would travel in clear (http:// is taken only for a "
        "loopback address)"
    )


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
