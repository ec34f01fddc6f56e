"""The Pulumi side of kafka-to-lambda: stack settings and the ECS Fargate component."""
