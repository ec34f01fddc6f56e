"""The dashboard, the alarms and the lag autoscaling, as the Pulumi engine would receive them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from consumer.operations.metrics import DEFAULT_NAMESPACE, METRIC_NAMES
from tests.support.pulumi_program import MINIMAL_CONFIG, REPO, Deployment, deploy, run_program

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"


def our_metric_names(metrics: list[list[Any]]) -> set[str]:
    return {series[1] for series in metrics if series[0] == DEFAULT_NAMESPACE}


def alarm_metric_names(alarm: dict[str, Any]) -> set[str]:
    if "metricName" in alarm:
        return {alarm["metricName"]} if alarm["namespace"] == DEFAULT_NAMESPACE else set()
    return {
        query["metric"]["metricName"]
        for query in alarm["metricQueries"]
        if "metric" in query and query["metric"]["namespace"] == DEFAULT_NAMESPACE
    }


def test_the_dashboard_shows_every_metric_the_bridge_emits_and_no_other() -> None:
    deployment = deploy(MINIMAL_CONFIG)
    body = json.loads(deployment.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    shown: set[str] = set()
    for widget in body["widgets"]:
        shown |= our_metric_names(widget["properties"]["metrics"])
    assert shown == METRIC_NAMES
    running_tasks = [w for w in body["widgets"] if w["properties"]["title"] == "Running tasks"]
    assert running_tasks, "the dashboard shows the running tasks"


def test_the_dashboard_and_alarms_select_the_dimensions_the_container_writes() -> None:
    deployment = deploy(MINIMAL_CONFIG)
    environment = deployment.environment()
    expected = {
        "Service": environment["METRICS_SERVICE"],
        "Topic": MINIMAL_CONFIG["topic"],
        "Group": MINIMAL_CONFIG["groupId"],
    }
    body = json.loads(deployment.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    for widget in body["widgets"]:
        for series in widget["properties"]["metrics"]:
            if series[0] == DEFAULT_NAMESPACE:
                pairs = [part for part in series[2:] if isinstance(part, str)]
                assert dict(zip(pairs[::2], pairs[1::2], strict=True)) == expected
    for alarm in deployment.of_type(ALARM):
        if alarm.inputs.get("namespace") == DEFAULT_NAMESPACE:
            assert alarm.inputs["dimensions"] == expected


def test_alarms_watch_lag_dead_letters_errors_progress_and_tasks_and_notify_the_topic() -> None:
    deployment = deploy(MINIMAL_CONFIG)
    alarms = {
        a.name.removeprefix("kafka-to-lambda-test-"): a.inputs for a in deployment.of_type(ALARM)
    }
    assert set(alarms) == {"lag", "dead-lettered", "function-errors", "no-progress", "no-tasks"}
    assert alarm_metric_names(alarms["lag"]) == {"ConsumerLag"}
    assert alarm_metric_names(alarms["dead-lettered"]) == {"DeadLettered"}
    assert alarms["dead-lettered"]["threshold"] == 0
    assert alarm_metric_names(alarms["function-errors"]) == {"FunctionErrors", "Invocations"}
    # Filtered records are progress too: a stream that filters everything is not stuck.
    assert alarm_metric_names(alarms["no-progress"]) == {
        "ConsumerLag",
        "RecordsDelivered",
        "RecordsFiltered",
    }
    assert alarms["no-tasks"]["metricName"] == "RunningTaskCount"
    for inputs in alarms.values():
        assert alarm_metric_names(inputs) <= METRIC_NAMES
        assert inputs["alarmActions"] == inputs["okActions"]
        assert len(inputs["alarmActions"]) == 1
        assert inputs["alarmDescription"].count("First:") == 1, "each says the first response"
    assert len(deployment.of_type(TOPIC)) == 1
    assert not deployment.of_type(SUBSCRIPTION)


def test_lag_alarm_thresholds_come_from_the_stack() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "lagAlarmThreshold": 500, "lagAlarmMinutes": 3})
    (lag,) = [a for a in deployment.of_type(ALARM) if a.name.endswith("-lag")]
    assert (lag.inputs["threshold"], lag.inputs["evaluationPeriods"]) == (500, 3)
    assert lag.inputs["statistic"] == "Maximum"


def test_an_alarm_email_subscribes_to_the_topic() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "alarmEmail": "oncall@example.org"})
    (subscription,) = deployment.of_type(SUBSCRIPTION)
    assert subscription.inputs["protocol"] == "email"
    assert subscription.inputs["endpoint"] == "oncall@example.org"


def test_without_alarms_there_is_no_alarm_and_no_topic() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "alarms": False})
    assert not deployment.of_type(ALARM)
    assert not deployment.of_type(TOPIC)
    assert "alarmTopicArn" not in deployment.outputs


def test_without_autoscaling_the_service_keeps_its_desired_count() -> None:
    deployment = deploy(MINIMAL_CONFIG)
    assert not deployment.of_type(SCALING_TARGET)
    assert not deployment.of_type(SCALING_POLICY)


def scaling(config: dict[str, object]) -> tuple[dict[str, Any], dict[str, Any]]:
    deployment: Deployment = deploy({**MINIMAL_CONFIG, **config})
    return (
        deployment.one(SCALING_TARGET).inputs,
        deployment.one(SCALING_POLICY).inputs,
    )


def test_autoscaling_tracks_lag_per_task_and_never_exceeds_the_partitions() -> None:
    target, policy = scaling({"autoscaling": True, "partitions": 20, "targetLagPerTask": 800})
    assert (target["minCapacity"], target["maxCapacity"]) == (1, 20)
    assert target["scalableDimension"] == "ecs:service:DesiredCount"
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert tracking["targetValue"] == 800
    # A change of membership moves only what the balance needs: 5 minutes keep a lull from
    # making the count flap, no longer a quarter of an hour of whole-group rebalances.
    assert tracking["scaleOutCooldown"] < tracking["scaleInCooldown"] <= 300
    queries = tracking["customizedMetricSpecification"]["metrics"]
    ours = {q["metricStat"]["metric"]["metricName"] for q in queries if "metricStat" in q}
    assert ours == {"ConsumerLag", "RunningTaskCount"}
    (returned,) = [q for q in queries if q.get("returnData")]
    assert "lag" in returned["expression"]
    assert "tasks" in returned["expression"]


def test_a_smaller_maximum_is_kept() -> None:
    target, _ = scaling({"autoscaling": True, "partitions": 20, "maxTasks": 6, "minTasks": 2})
    assert (target["minCapacity"], target["maxCapacity"]) == (2, 6)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"autoscaling": True}, "kafka-to-lambda:partitions is required with autoscaling"),
        (
            {"autoscaling": True, "partitions": 4, "maxTasks": 5},
            "kafka-to-lambda:maxTasks is 5, more than the topic's 4 partitions",
        ),
        (
            {"autoscaling": True, "partitions": 4, "minTasks": 5},
            "kafka-to-lambda:minTasks is 5, above the maximum of 4 tasks",
        ),
        ({"partitions": 4, "desiredCount": 6}, "kafka-to-lambda:desiredCount is 6, more than"),
        ({"alarmEmail": "oncall"}, "kafka-to-lambda:alarmEmail is 'oncall', not an address"),
        ({"lagAlarmMinutes": 0}, "kafka-to-lambda:lagAlarmMinutes is 0"),
    ],
)
def test_bad_monitoring_settings_fail_before_anything_is_declared(
    config: dict[str, object], message: str
) -> None:
    deployment = run_program({**MINIMAL_CONFIG, **config})
    assert deployment.error is not None
    assert message in str(deployment.error)
    assert "pulumi config set" in str(deployment.error)
    assert not [r for r in deployment.resources if r.type.startswith("aws:")]


def test_the_operating_page_explains_every_metric_and_every_alarm() -> None:
    operating = (REPO / "docs" / "operating.md").read_text()
    for name in METRIC_NAMES:
        assert f"| `{name}` |" in operating, name
    deployment = deploy(MINIMAL_CONFIG)
    for alarm in deployment.of_type(ALARM):
        suffix = alarm.name.removeprefix("kafka-to-lambda-test-")
        assert f"| `{suffix}` |" in operating, suffix


@pytest.mark.parametrize(
    ("config", "watched"),
    [
        ({"autoscaling": True, "partitions": 4, "minTasks": 0, "maxTasks": 4}, False),
        ({"autoscaling": True, "partitions": 4, "minTasks": 1, "maxTasks": 4}, True),
        ({"desiredCount": 0}, False),
        ({"desiredCount": 2}, True),
    ],
)
def test_no_running_tasks_alarms_only_where_the_service_is_never_meant_to_rest_at_zero(
    config: dict[str, Any], watched: bool
) -> None:
    deployment = deploy({**MINIMAL_CONFIG, **config})
    names = {
        alarm.name.rsplit("-", 2)[-2:] == ["no", "tasks"] for alarm in deployment.of_type(ALARM)
    }
    assert (True in names) is watched
