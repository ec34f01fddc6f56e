"""Certificates and keys given as a PEM file's path or as the PEM text itself.

On ECS a secret arrives as an environment value, not a file, while Python's `ssl` loads a
client certificate only from files: PEM text is written to a private file (mode 0600, in the
writable temporary directory) for the life of the process, and removed at exit.
"""

from __future__ import annotations

import atexit
import os
import tempfile
from pathlib import Path

_PEM_START = "-----BEGIN "


def is_pem_text(value: str) -> bool:
    return value.lstrip().startswith(_PEM_START)


def check_pem_or_path(value: str) -> None:
    """ValueError unless `value` is PEM text or names a readable file. Never quotes PEM text."""
    if is_pem_text(value):
        if "-----END " not in value:
            raise ValueError("PEM text without its -----END line (cut short?)")
        return
    if "\n" in value or not Path(value).is_file():
        # The value is not quoted: it may be a key in another encoding.
        raise ValueError("neither PEM text (-----BEGIN …) nor the path of a readable file")


def as_file(value: str) -> str:
    """The path of a file holding `value`: itself if it is a path, else a private copy."""
    if not is_pem_text(value):
        return value
    # mkstemp creates the file with mode 0600, readable by this user only.
    descriptor, path = tempfile.mkstemp(prefix="kafka-to-lambda-", suffix=".pem")
    with os.fdopen(descriptor, "w") as file:
        file.write(value)
    atexit.register(_remove, path)
    return path


def _remove(path: str) -> None:
    Path(path).unlink(missing_ok=True)
