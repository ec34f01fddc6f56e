"""Optional ECS service autoscaling on consumer lag per task.

Target tracking keeps (total lag / running tasks) near `target_lag_per_task`. The maximum
is never above the partition count: a task beyond it would own no partition. A membership
change stops only the partitions that move (docs/design.md, "Membership changes and
leases"), so scale-in waits 5 minutes, longer than scale-out, only so that a lull does not
make the count flap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pulumi
import pulumi_aws as aws

from consumer.operations.metrics import DEFAULT_NAMESPACE
from infra.monitoring import CONTAINER_INSIGHTS, Watched, metric

SCALE_OUT_COOLDOWN_S: Final = 120
SCALE_IN_COOLDOWN_S: Final = 300


@dataclass(frozen=True)
class ScalingSettings:
    min_tasks: int
    max_tasks: int  # already capped at the partition count
    target_lag_per_task: int


def lag_autoscaling(
    name: str,
    watched: Watched,
    settings: ScalingSettings,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.appautoscaling.Policy:
    child = pulumi.ResourceOptions(parent=parent)
    target = aws.appautoscaling.Target(
        f"{name}-scaling",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=pulumi.Output.concat(
            "service/", watched.cluster_name, "/", watched.service_name
        ),
        min_capacity=settings.min_tasks,
        max_capacity=settings.max_tasks,
        tags=dict(tags),
        opts=child,
    )
    return aws.appautoscaling.Policy(
        f"{name}-scale-on-lag",
        policy_type="TargetTrackingScaling",
        service_namespace=target.service_namespace,
        scalable_dimension=target.scalable_dimension,
        resource_id=target.resource_id,
        target_tracking_scaling_policy_configuration={
            "target_value": settings.target_lag_per_task,
            "scale_in_cooldown": SCALE_IN_COOLDOWN_S,
            "scale_out_cooldown": SCALE_OUT_COOLDOWN_S,
            "customized_metric_specification": {
                "metrics": [
                    {
                        "id": "lag",
                        "return_data": False,
                        "metric_stat": {
                            "metric": {
                                "namespace": DEFAULT_NAMESPACE,
                                "metric_name": metric("ConsumerLag"),
                                "dimensions": [
                                    {"name": key, "value": value}
                                    for key, value in watched.dimensions.items()
                                ],
                            },
                            "stat": "Sum",
                        },
                    },
                    {
                        "id": "tasks",
                        "return_data": False,
                        "metric_stat": {
                            "metric": {
                                "namespace": CONTAINER_INSIGHTS,
                                "metric_name": "RunningTaskCount",
                                "dimensions": [
                                    {"name": "ClusterName", "value": watched.cluster_name},
                                    {"name": "ServiceName", "value": watched.service_name},
                                ],
                            },
                            "stat": "Average",
                        },
                    },
                    {
                        "id": "lag_per_task",
                        "expression": "FILL(lag, 0) / MAX([FILL(tasks, 1), 1])",
                        "label": "lag per task",
                        "return_data": True,
                    },
                ]
            },
        },
        opts=child,
    )
