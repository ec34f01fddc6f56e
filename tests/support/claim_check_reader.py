"""The reader functions use (examples/claim_checks.py), loaded from its file as a module of
its own, as a function's package would hold it."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from types import ModuleType

from tests.support.bridge_harness import REPO

READER_PATH = REPO / "examples" / "claim_checks.py"


@cache
def claim_check_reader() -> ModuleType:
    name = "claim_checks_under_test"
    spec = importlib.util.spec_from_file_location(name, READER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module
