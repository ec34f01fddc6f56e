"""Liveness: the heartbeat the bridge writes and `python -m consumer.health` checks. It imports
nothing else of the bridge, so the container's check starts fast."""
