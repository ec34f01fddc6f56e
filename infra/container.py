"""The task's one container: image, environment, secrets, health check, logs.

The root filesystem is read-only; the bridge writes its heartbeat under /tmp, so a task
volume (Fargate ephemeral storage) is mounted there. The health check runs the same command
as the Dockerfile's HEALTHCHECK, with the same timings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

CONTAINER_NAME: Final = "bridge"
# The image's non-root user (Dockerfile USER), stated again so the task cannot run as root.
CONTAINER_USER: Final = "10001:10001"
HEALTH_CHECK_COMMAND: Final = ("python", "-m", "consumer.health")
HEALTH_CHECK_TIMINGS_S: Final[Mapping[str, int]] = {
    "interval": 30,
    "timeout": 5,
    "retries": 3,
    "startPeriod": 60,
}
TMP_VOLUME: Final = "tmp"
TMP_PATH: Final = "/tmp"
LOG_STREAM_PREFIX: Final = "bridge"


def container_definitions(
    *,
    image: str,
    environment: Mapping[str, str],
    secrets: Mapping[str, str],
    log_group: str,
    region: str,
    stop_timeout_s: int,
) -> str:
    """The task definition's `containerDefinitions` JSON."""
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": image,
        "essential": True,
        "user": CONTAINER_USER,
        "readonlyRootFilesystem": True,
        "environment": [
            {"name": name, "value": value} for name, value in sorted(environment.items())
        ],
        # Variable → the SSM parameter ECS reads it from when the task starts.
        "secrets": [
            {"name": name, "valueFrom": parameter_arn}
            for name, parameter_arn in sorted(secrets.items())
        ],
        "mountPoints": [{"sourceVolume": TMP_VOLUME, "containerPath": TMP_PATH, "readOnly": False}],
        "healthCheck": {"command": ["CMD", *HEALTH_CHECK_COMMAND], **HEALTH_CHECK_TIMINGS_S},
        "stopTimeout": stop_timeout_s,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": LOG_STREAM_PREFIX,
            },
        },
    }
    return json.dumps([container], sort_keys=True)
