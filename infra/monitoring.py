"""What on-call watches: a CloudWatch dashboard and alarms on the bridge's own metrics.

The metric names come from `consumer.operations.metrics.METRICS` (the list the bridge emits), so a
renamed metric cannot leave a widget or an alarm watching nothing. The bridge's metrics
carry the dimensions Service (this stack's component name), Topic and Group.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from consumer.operations.metrics import DEFAULT_NAMESPACE, METRIC_NAMES

CONTAINER_INSIGHTS: Final = "ECS/ContainerInsights"
PERIOD_S: Final = 60


def metric(name: str) -> str:
    """A metric of the bridge, by name: fails at `pulumi up` if the bridge does not emit it."""
    if name not in METRIC_NAMES:
        raise ValueError(f"the bridge emits no metric {name!r} (consumer/operations/metrics.py)")
    return name


@dataclass(frozen=True)
class Watched:
    """Where the metrics of one deployed bridge are."""

    region: str
    service: str  # the Service dimension the bridge writes (METRICS_SERVICE)
    topic: str
    group: str
    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]

    @property
    def dimensions(self) -> dict[str, str]:
        return {"Service": self.service, "Topic": self.topic, "Group": self.group}

    def series(self, name: str, **options: Any) -> list[Any]:
        """A dashboard metric array: namespace, name, dimension pairs, then options."""
        pairs = [part for item in self.dimensions.items() for part in item]
        return [DEFAULT_NAMESPACE, metric(name), *pairs, *([options] if options else [])]


def dashboard_body(watched: Watched, cluster: str, service: str) -> str:
    def widget(title: str, series: Sequence[list[Any]], stat: str = "Sum") -> dict[str, Any]:
        return {
            "type": "metric",
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": watched.region,
                "view": "timeSeries",
                "stat": stat,
                "period": PERIOD_S,
                "metrics": list(series),
            },
        }

    s = watched.series
    widgets = [
        widget(
            "Throughput (records/min)",
            [s("RecordsConsumed"), s("RecordsDelivered"), s("RecordsFiltered")],
        ),
        widget(
            "Consumer lag (records)",
            [s("ConsumerLag", stat="Maximum", label="worst partition"),
             s("ConsumerLag", stat="Sum", label="total")],
            stat="Maximum",
        ),
        widget(
            "Invocations, errors, throttles, retries",
            [s("Invocations"), s("FunctionErrors"), s("Throttles"), s("Retries")],
        ),
        widget(
            "Latency (ms)",
            [s("InvocationLatency", stat="p50", label="invoke p50"),
             s("InvocationLatency", stat="p99", label="invoke p99"),
             s("EndToEndLatency", stat="p50", label="end to end p50"),
             s("EndToEndLatency", stat="p99", label="end to end p99")],
            stat="p50",
        ),
        widget("Dead-lettered records", [s("DeadLettered")]),
        widget(
            "Answers produced, answer produce failures",
            [s("AnswersProduced"), s("AnswerProduceFailures")],
        ),
        widget(
            "In flight and paused partitions",
            [s("InFlight"), s("PausedPartitions")],
            stat="Maximum",
        ),
        widget(
            "Running tasks",
            [[CONTAINER_INSIGHTS, "RunningTaskCount", "ClusterName", cluster,
              "ServiceName", service]],
            stat="Minimum",
        ),
    ]  # fmt: skip
    return json.dumps({"widgets": widgets})


@dataclass(frozen=True)
class AlarmSettings:
    email: str | None
    lag_threshold: int
    lag_minutes: int
    function_error_rate_percent: int
    stall_minutes: int
    watch_running_tasks: bool  # False when the stack runs no tasks on purpose


def _query(query_id: str, watched: Watched, name: str, stat: str) -> dict[str, Any]:
    return {
        "id": query_id,
        "return_data": False,
        "metric": {
            "namespace": DEFAULT_NAMESPACE,
            "metric_name": metric(name),
            "dimensions": watched.dimensions,
            "period": PERIOD_S,
            "stat": stat,
        },
    }


def _expression(query_id: str, expression: str, label: str) -> dict[str, Any]:
    return {"id": query_id, "expression": expression, "label": label, "return_data": True}


def alarms(
    name: str,
    watched: Watched,
    settings: AlarmSettings,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.sns.Topic:
    """An SNS topic (with the email subscription, if any) and the alarms that notify it."""
    child = pulumi.ResourceOptions(parent=parent)
    topic = aws.sns.Topic(f"{name}-alarms", tags=dict(tags), opts=child)
    if settings.email:
        aws.sns.TopicSubscription(
            f"{name}-alarms-email",
            topic=topic.arn,
            protocol="email",
            endpoint=settings.email,
            opts=child,
        )
    notify: dict[str, Any] = {
        "alarm_actions": [topic.arn],
        "ok_actions": [topic.arn],
        "tags": dict(tags),
    }

    def alarm(suffix: str, description: str, **spec: Any) -> None:
        aws.cloudwatch.MetricAlarm(
            f"{name}-{suffix}", alarm_description=description, **notify, **spec, opts=child
        )

    alarm(
        "lag",
        f"A partition is more than {settings.lag_threshold} records behind for "
        f"{settings.lag_minutes} minutes. First: is the function slow or throttled?",
        namespace=DEFAULT_NAMESPACE,
        metric_name=metric("ConsumerLag"),
        dimensions=watched.dimensions,
        statistic="Maximum",
        period=PERIOD_S,
        evaluation_periods=settings.lag_minutes,
        comparison_operator="GreaterThanThreshold",
        threshold=settings.lag_threshold,
        treat_missing_data="notBreaching",
    )
    alarm(
        "dead-lettered",
        "Records went to the dead letter. First: read their error, fix, then redrive.",
        namespace=DEFAULT_NAMESPACE,
        metric_name=metric("DeadLettered"),
        dimensions=watched.dimensions,
        statistic="Sum",
        period=PERIOD_S,
        evaluation_periods=1,
        comparison_operator="GreaterThanThreshold",
        threshold=0,
        treat_missing_data="notBreaching",
    )
    alarm(
        "function-errors",
        f"Over {settings.function_error_rate_percent} % of invocations fail, 5 minutes "
        "running. First: the function's own logs.",
        metric_queries=[
            _query("errors", watched, "FunctionErrors", "Sum"),
            _query("invocations", watched, "Invocations", "Sum"),
            _expression("rate", "100 * FILL(errors, 0) / FILL(invocations, 1)", "function error %"),
        ],
        evaluation_periods=5,
        comparison_operator="GreaterThanThreshold",
        threshold=settings.function_error_rate_percent,
        treat_missing_data="notBreaching",
    )
    alarm(
        "no-progress",
        f"Records wait, yet none was delivered for {settings.stall_minutes} minutes. First: "
        "a stalled partition (ON_FAILURE=stall) or a wedged task.",
        metric_queries=[
            _query("lag", watched, "ConsumerLag", "Maximum"),
            _query("delivered", watched, "RecordsDelivered", "Sum"),
            _query("filtered", watched, "RecordsFiltered", "Sum"),  # done too: progress
            _expression(
                "stuck",
                "IF(FILL(lag, 0) > 0 AND FILL(delivered, 0) + FILL(filtered, 0) == 0, 1, 0)",
                "waiting without progress",
            ),
        ],
        evaluation_periods=settings.stall_minutes,
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=1,
        treat_missing_data="notBreaching",
    )
    if settings.watch_running_tasks:
        alarm(
            "no-tasks",
            "No bridge task is running. First: the service's events (failed starts, "
            "rolled-back deployment).",
            namespace=CONTAINER_INSIGHTS,
            metric_name="RunningTaskCount",
            dimensions={
                "ClusterName": watched.cluster_name,
                "ServiceName": watched.service_name,
            },
            statistic="Minimum",
            period=PERIOD_S,
            evaluation_periods=3,
            comparison_operator="LessThanThreshold",
            threshold=1,
            treat_missing_data="breaching",  # no data from the service: nothing runs
        )
    return topic


def dashboard(name: str, watched: Watched, parent: pulumi.Resource) -> aws.cloudwatch.Dashboard:
    return aws.cloudwatch.Dashboard(
        f"{name}-dashboard",
        dashboard_name=name,
        dashboard_body=pulumi.Output.all(watched.cluster_name, watched.service_name).apply(
            lambda names: dashboard_body(watched, names[0], names[1])
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
