"""A stand-in for the Dockerfile's base image, made where the real one cannot be pulled.

The base, python:3.11.x-slim-bookworm, comes from Docker Hub, which these machines do not
reach. The stand-in is Debian bookworm (mmdebstrap's minbase) with Debian's python3 and
python3-venv, imported into podman's storage under the base's exact name, so the Dockerfile
builds unchanged. Where the Dockerfile relies on the python image's layout, the stand-in
has it: /usr/local is a virtual environment of Debian's Python, so /usr/local/bin/python and
pip, and pip and setuptools in /usr/local/lib/python3.11/site-packages, are where they are
in the python image; PATH and LANG are set as there.

It differs in: Python 3.11.2 (Debian's, /usr/bin/python3.11) instead of 3.11.x built into
/usr/local; pip 23.0.1 and setuptools 66 (Debian's wheels), no wheel; a larger Debian;
and its pip trusts this machine's CA bundle (PIP_CERT), which HTTPS here may need.
The real base is what deploys. Where it is in podman's storage already (pulled by hand), it
is used and no stand-in is made; a stand-in of an older recipe is made again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.podman import PodmanError, podman

REPO = Path(__file__).resolve().parents[2]
RECIPE_LABEL = "kafka-to-lambda.stand-in-recipe"
# Where the stand-in keeps this machine's CA bundle, for its pip only.
PIP_CA_BUNDLE = "/etc/ssl/certs/build-machine-ca-bundle.crt"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
# As the python image sets them (its Dockerfile), so `ENV PATH=/opt/bridge/bin:$PATH` reads one.
IMAGE_ENVIRONMENT = {
    "PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
CONFIG = ('CMD ["python3"]',)


class StandInUnavailable(RuntimeError):
    """The base is missing and no stand-in can be made here; the message says why."""


def dockerfile_base(dockerfile: Path = REPO / "Dockerfile") -> str:
    """The base the Dockerfile builds from, named as podman stores a pulled one."""
    found = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile.read_text(), re.MULTILINE)
    assert found, "the Dockerfile names its base in `ARG PYTHON_IMAGE=...`"
    name = found.group(1)
    return name if "/" in name else f"docker.io/library/{name}"


def _machine_ca_bundle() -> Path | None:
    path = os.environ.get("SSL_CERT_FILE") or ssl.get_default_verify_paths().openssl_cafile
    return Path(path) if path and Path(path).is_file() else None


@dataclass(frozen=True)
class Recipe:
    """How the stand-in for `base` is made; `id` changes whenever the result would."""

    suite: str  # Debian's release: the base tag's last word (…-slim-bookworm)
    mmdebstrap: tuple[str, ...]  # its arguments, but the target
    changes: tuple[str, ...]  # podman import's --change instructions
    id: str

    @classmethod
    def of(cls, base: str) -> Recipe:
        suite = base.rsplit("-", 1)[-1]
        hooks = ['chroot "$1" python3 -m venv /usr/local']
        environment = dict(IMAGE_ENVIRONMENT)
        bundle = _machine_ca_bundle()
        if bundle is not None:
            hooks.append(f"upload {bundle} {PIP_CA_BUNDLE}")
            environment["PIP_CERT"] = PIP_CA_BUNDLE
        mmdebstrap = (
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            *(f"--customize-hook={hook}" for hook in hooks),
            suite,
        )
        changes = (*(f"ENV {name}={value}" for name, value in environment.items()), *CONFIG)
        digest = hashlib.sha256("\n".join([*mmdebstrap, *changes]).encode())
        if bundle is not None:
            digest.update(bundle.read_bytes())
        return cls(suite, mmdebstrap, changes, digest.hexdigest()[:16])


def _stored_recipe(base: str) -> str | None:
    """None: no such image; "": an image without the label (the real base); else its recipe."""
    try:
        label = podman(
            "image", "inspect", "--format", f'{{{{index .Labels "{RECIPE_LABEL}"}}}}', base
        )
    except PodmanError:
        return None
    return label.strip()


def ensure_base(base: str | None = None) -> str:
    """The Dockerfile's base in podman's storage: the real one if there, else a stand-in."""
    base = base or dockerfile_base()
    recipe = Recipe.of(base)
    stored = _stored_recipe(base)
    if stored == "":
        print(f"Base image: {base} (the real one, found in podman's storage).", flush=True)
        return base
    if stored == recipe.id:
        print(f"Base image: the stand-in for {base}, made earlier ({recipe.id}).", flush=True)
        return base
    if os.geteuid() != 0 or shutil.which("mmdebstrap") is None:
        raise StandInUnavailable(
            f"the base image {base} is not in podman's storage, and making its stand-in "
            "needs mmdebstrap run as root"
        )
    print(
        f"Making a stand-in for the base image {base} (Docker Hub is out of reach here): "
        f"Debian {recipe.suite} with its python3, about half a minute, once per machine.",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="stand-in-base-") as directory:
        tarball = Path(directory) / "rootfs.tar"
        subprocess.run(
            ["mmdebstrap", *recipe.mmdebstrap, str(tarball)], stdin=subprocess.DEVNULL, check=True
        )
        changes = [*recipe.changes, f"LABEL {RECIPE_LABEL}={recipe.id}"]
        podman("import", "--quiet", *(f"--change={c}" for c in changes), str(tarball), base)
    return base
