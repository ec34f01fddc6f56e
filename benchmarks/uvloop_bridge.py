"""`python -m consumer` on uvloop's event loop, to measure whether uvloop pays for itself.

Not part of the bridge: uvloop is not in its dependencies. Run with uvloop importable
(`pip install --target DIR uvloop`, then `PYTHONPATH=DIR python -m benchmarks --uvloop`).
"""

from __future__ import annotations

import sys

import uvloop  # type: ignore[import-not-found, unused-ignore]  # not a dependency

from consumer.__main__ import main

if __name__ == "__main__":
    uvloop.install()  # asyncio.run in the bridge's main now builds a uvloop loop
    sys.exit(main())
