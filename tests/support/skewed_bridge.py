"""`python -m tests.support.skewed_bridge <seconds>`: the bridge, with its wall clock off by
<seconds> (negative: behind), as a task on a host whose clock drifted would run it."""

from __future__ import annotations

import sys
import time

from consumer.__main__ import main

if __name__ == "__main__":
    skew_s = float(sys.argv[1])
    sys.exit(main([], clock=lambda: time.time() + skew_s))
