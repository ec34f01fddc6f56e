"""What a pinned dependency set provides, and which imports of some code fall outside it.

Used to check that the image code (consumer/, minus the local mode) imports only the
consumer lock, the local mode only the local lock, and the Pulumi program only the infra
lock.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import Distribution, distribution, packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def locked_names(lock: str) -> set[str]:
    """Normalized distribution names pinned in requirements/<lock>."""
    names = set()
    for line in (REPO / "requirements" / lock).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==", line)
        if match:
            names.add(match.group(1).lower().replace("_", "-"))
    return names


def modules_installed_by(lock: str) -> set[str]:
    """Top-level modules the distributions of requirements/<lock> install (here, in .venv)."""
    locked = locked_names(lock)
    return {
        module
        for module, dists in packages_distributions().items()
        if any(d.lower().replace("_", "-") in locked for d in dists)
    }


def distributions_of(lock: str) -> list[Distribution]:
    return [distribution(name) for name in sorted(locked_names(lock))]


IMAGE_LEAVES_OUT = frozenset({"consumer.local"})  # the local mode: served to developers only


def imports_outside(
    source: str,
    allowed_modules: set[str],
    own: set[str],
    left_out: frozenset[str] = IMAGE_LEAVES_OUT,
) -> set[str]:
    """Modules `source` imports that are neither stdlib, `own` modules (dotted names: the
    module and what is below it), nor allowed; a `left_out` module (and what is below it)
    is outside even where `own` holds it."""
    outside = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if any(name == gone or name.startswith(gone + ".") for gone in left_out):
                outside.add(name)
            elif any(name == mine or name.startswith(mine + ".") for mine in own):
                continue
            elif top not in sys.stdlib_module_names | allowed_modules:
                outside.add(top)
    return outside
