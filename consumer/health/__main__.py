"""`python -m consumer.health`: the container's health check (see consumer/health/heartbeat.py)."""

import sys

from consumer.health.heartbeat import main

if __name__ == "__main__":
    sys.exit(main())
