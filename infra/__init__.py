"""The Pulumi side of kafka-to-lambda: stack settings and the ECS Fargate component."""

from infra.component import Bridge
from infra.settings import ConfigurationError, StackSettings

__all__ = ["Bridge", "ConfigurationError", "StackSettings"]
