"""`python -m consumer.redrive`: send dead-lettered records again (see consumer/redrive/run.py)."""

import sys

from consumer.redrive.run import main

if __name__ == "__main__":
    sys.exit(main())
