"""`python -m consumer.local`: the bridge end to end on this machine (see consumer/local/run.py)."""

import sys

from consumer.local.run import main

if __name__ == "__main__":
    sys.exit(main())
