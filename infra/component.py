"""The bridge on ECS Fargate: one ComponentResource owning everything a stack deploys.

Children (all parented here): the image (ECR repository + pushed build, or a prebuilt
reference), an SSM SecureString per secret setting (the Kafka password), the execution and
task roles, the security group, the log group, the cluster, the task definition, the
service, the dead-letter bucket, and the claim-check bucket when the stack creates one
(infra/large_records.py). Later additions (alarms, dashboard, autoscaling) attach
to `service`, `cluster` and `log_group`, which are kept as attributes for that.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

import pulumi
import pulumi_aws as aws

from consumer.settings.large_records import LargeRecordsLocation
from infra.account import Account
from infra.autoscaling import ScalingSettings, lag_autoscaling
from infra.container import CONTAINER_NAME, TMP_VOLUME, container_definitions
from infra.dead_letters import (
    DeadLetterBucket,
    DeadLetterTarget,
    KafkaTopic,
    MessageDestination,
    S3Location,
)
from infra.environment import container_environment
from infra.iam import (
    POLICY_VERSION,
    dead_letter_message_statements,
    ecs_tasks_trust_policy,
    execution_policy,
    function_arn,
    task_policy,
)
from infra.image import ContainerImage, built_image, prebuilt_image
from infra.large_records import LargeRecordsBucket, large_record_statements
from infra.monitoring import AlarmSettings, Watched, alarms, dashboard
from infra.msk import msk_statements, same_cluster_answer_topics
from infra.network import resolve_network, security_group
from infra.schema_registry import glue_statements
from infra.secrets import SecretParameters
from infra.settings import PROJECT, StackSettings

COMPONENT_TYPE: Final = f"{PROJECT}:index:Bridge"
# AWS-managed key SSM encrypts SecureStrings with when no key is named.
DEFAULT_SSM_KEY: Final = "alias/aws/ssm"


class Bridge(pulumi.ComponentResource):
    """The deployed bridge. Outputs: image, cluster, service, log group, the secrets' parameter
    names, dead-letter location."""

    image_ref: pulumi.Output[str]
    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    secret_parameter_names: pulumi.Output[dict[str, str]]
    dead_letters: pulumi.Output[str]

    def __init__(
        self, name: str, settings: StackSettings, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        # Look-ups first: a missing default VPC fails before anything is declared.
        network = resolve_network(settings)
        account = Account.lookup()
        super().__init__(COMPONENT_TYPE, name, None, opts)
        tags = {"app": PROJECT, "stack": pulumi.get_stack()}
        child = pulumi.ResourceOptions(parent=self)

        image = self._image(name, settings, account, tags)
        dead_letters = self._dead_letters(name, settings, tags)
        created_large_records = self._large_records_bucket(name, settings, tags)

        infra = settings.infra
        secrets = SecretParameters(
            name, settings.secrets, kms_key_id=infra.kms_key_id, tags=tags, parent=self
        )
        secret_key = aws.kms.get_key_output(key_id=infra.kms_key_id or DEFAULT_SSM_KEY)

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/ecs/{name}",
            retention_in_days=infra.log_retention_days,
            kms_key_id=infra.log_kms_key_arn,  # None: CloudWatch Logs' own encryption
            tags=tags,
            opts=child,
        )

        trust = json.dumps(ecs_tasks_trust_policy(account))
        execution_role = aws.iam.Role(
            f"{name}-execution",
            description="ECS: pull the bridge's image, write its logs, read its secrets",
            assume_role_policy=trust,
            tags=tags,
            opts=child,
        )
        execution_policy_resource = aws.iam.RolePolicy(
            f"{name}-execution",
            role=execution_role.id,
            policy=pulumi.Output.all(
                secrets.arns,
                secret_key.arn,
                self.log_group.arn,
                image.repository_arn,
            ).apply(
                lambda arns: json.dumps(
                    execution_policy(
                        account=account,
                        secret_parameter_arns=arns[0],
                        secret_key_arn=arns[1],
                        log_group_arn=arns[2],
                        repository_arn=arns[3],
                    )
                )
            ),
            opts=child,
        )
        task_role = aws.iam.Role(
            f"{name}-task",
            description="The bridge: invoke its function, write its dead letters",
            assume_role_policy=trust,
            tags=tags,
            opts=child,
        )
        invoke_arn = function_arn(settings.bridge.lambda_function_name, account)
        kafka_statements = self._kafka_statements(settings)
        glue = settings.glue_registry
        schema_registry_statements = [] if glue is None else glue_statements(glue)
        task_policy_resource = aws.iam.RolePolicy(
            f"{name}-task",
            role=task_role.id,
            policy=dead_letters.apply(
                lambda target: json.dumps(
                    task_policy(
                        function_arn=invoke_arn,
                        dead_letter_objects_arn=_objects_arn(target, account.partition),
                        dead_letter_message_statements=_message_statements(
                            target, infra.dlq_kms_key_arn
                        ),
                        kafka_statements=kafka_statements(target),
                        schema_registry_statements=schema_registry_statements,
                    )
                )
            ),
            opts=child,
        )

        large_records_policy = self._large_records_policy(
            name, settings, account, task_role, created_large_records
        )

        group = security_group(
            f"{name}-tasks",
            network=network,
            kafka_ports=settings.kafka_ports,
            registry_port=settings.schema_registry_port,
            tags=tags,
            parent=self,
        )
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[{"name": "containerInsights", "value": "enabled"}],
            tags=tags,
            opts=child,
        )
        # Tasks start only once their roles may do their work: a task started before the
        # execution policy exists cannot read its secrets, and the circuit breaker would roll
        # the deployment back for it.
        policies = [execution_policy_resource, task_policy_resource]
        if large_records_policy is not None:
            policies.append(large_records_policy)
        after_policies = pulumi.ResourceOptions(parent=self, depends_on=policies)
        task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=name,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(infra.cpu),
            memory=str(infra.memory),
            runtime_platform={
                "operating_system_family": "LINUX",
                "cpu_architecture": infra.cpu_architecture.value,
            },
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            volumes=[{"name": TMP_VOLUME}],  # no host path: the task's ephemeral storage
            container_definitions=pulumi.Output.all(
                image.ref,
                dead_letters,
                secrets.by_variable,
                self.log_group.name,
                created_large_records,
            ).apply(
                lambda values: container_definitions(
                    image=values[0],
                    environment=container_environment(
                        settings,
                        values[1].uri,
                        name,
                        _overflow_uri(values[1]),
                        large_records=None if values[4] is None else values[4].uri,
                    ),
                    secrets=values[2],
                    log_group=values[3],
                    region=account.region,
                    stop_timeout_s=settings.stop_timeout_seconds,
                )
            ),
            tags=tags,
            opts=after_policies,
        )
        # With autoscaling, the service starts at the minimum and the count is the scaling
        # policy's from then on: a later `pulumi up` must not set it back.
        scaled = infra.autoscaling
        self.service = aws.ecs.Service(
            f"{name}-service",
            cluster=self.cluster.arn,
            task_definition=task_definition.arn,
            desired_count=infra.min_tasks if scaled else infra.desired_count,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration={
                "subnets": list(network.subnet_ids),
                "security_groups": [group.id],
                "assign_public_ip": infra.assign_public_ip,
            },
            deployment_circuit_breaker={"enable": True, "rollback": True},
            # Tasks read secrets when they start: a new parameter version (a rotated
            # password) restarts them. Other changes to the service redeploy it too.
            force_new_deployment=True,
            triggers={"secretVersions": secrets.versions},
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            wait_for_steady_state=True,  # `pulumi up` ends when the tasks run (or rolled back)
            tags=tags,
            opts=pulumi.ResourceOptions.merge(
                after_policies,
                pulumi.ResourceOptions(ignore_changes=["desired_count"] if scaled else []),
            ),
        )

        watched = Watched(
            region=account.region,
            service=name,
            topic=settings.bridge.topics_description,
            group=settings.bridge.kafka_group_id,
            cluster_name=self.cluster.name,
            service_name=self.service.name,
        )
        self.dashboard_name = dashboard(name, watched, parent=self).dashboard_name
        self.alarm_topic_arn: pulumi.Output[str] | None = None
        if infra.alarms:
            alarm_settings = AlarmSettings(
                email=infra.alarm_email,
                lag_threshold=infra.lag_alarm_threshold,
                lag_minutes=infra.lag_alarm_minutes,
                function_error_rate_percent=infra.function_error_rate_percent,
                stall_minutes=infra.stall_alarm_minutes,
                # A service meant to rest at zero tasks must not alarm when it does.
                watch_running_tasks=infra.min_tasks > 0 if scaled else infra.desired_count > 0,
            )
            self.alarm_topic_arn = alarms(name, watched, alarm_settings, tags, parent=self).arn
        if infra.autoscaling:
            scaling = ScalingSettings(
                min_tasks=infra.min_tasks,
                max_tasks=infra.scaling_max_tasks,
                target_lag_per_task=infra.target_lag_per_task,
            )
            lag_autoscaling(name, watched, scaling, tags, parent=self)

        self.image_ref = image.ref
        self.cluster_name = self.cluster.name
        self.service_name = self.service.name
        self.log_group_name = self.log_group.name
        self.secret_parameter_names = secrets.names
        self.dead_letters = dead_letters.apply(lambda target: target.uri)
        self.register_outputs(
            {
                "imageRef": self.image_ref,
                "clusterName": self.cluster_name,
                "serviceName": self.service_name,
                "logGroupName": self.log_group_name,
                "secretParameterNames": self.secret_parameter_names,
                "deadLetters": self.dead_letters,
                "containerName": CONTAINER_NAME,
                "dashboardName": self.dashboard_name,
                "alarmTopicArn": self.alarm_topic_arn,
            }
        )

    @staticmethod
    def _kafka_statements(
        settings: StackSettings,
    ) -> Callable[[DeadLetterTarget], list[dict[str, Any]]]:
        """The MSK IAM statements for a dead-letter target (none without MSK IAM)."""

        def statements(target: DeadLetterTarget) -> list[dict[str, Any]]:
            if settings.msk_cluster is None:
                return []
            bridge = settings.bridge
            return msk_statements(
                settings.msk_cluster,
                topics=bridge.kafka_topic,
                topic_pattern=bridge.kafka_topic_pattern,
                group=bridge.kafka_group_id,
                dead_letter_topic=target.topic if isinstance(target, KafkaTopic) else None,
                answer_topics=same_cluster_answer_topics(bridge),
            )

        return statements

    def _image(
        self, name: str, settings: StackSettings, account: Account, tags: dict[str, str]
    ) -> ContainerImage:
        if settings.infra.image:
            return prebuilt_image(settings.infra.image, account.partition)
        return built_image(
            f"{name}-repository",
            cpu_architecture=settings.infra.cpu_architecture.value,
            keep_images=settings.infra.image_retention_count,
            tags=tags,
            parent=self,
        )

    def _large_records_bucket(
        self, name: str, settings: StackSettings, tags: dict[str, str]
    ) -> pulumi.Output[LargeRecordsLocation | None]:
        """The claim-check bucket the stack creates (largeRecordsBucket), or None."""
        infra = settings.infra
        if not infra.large_records_bucket:
            return pulumi.Output.from_input(None)
        bucket = LargeRecordsBucket(
            f"{name}-large-records",
            prefix=infra.large_records_prefix,
            retention_days=infra.large_records_retention_days,
            kms_key_arn=settings.bridge.large_records_kms_key_arn,
            force_destroy=infra.large_records_force_destroy,
            tags=tags,
            parent=self,
        )
        return bucket.location.apply(lambda location: location)

    def _large_records_policy(
        self,
        name: str,
        settings: StackSettings,
        account: Account,
        task_role: aws.iam.Role,
        created: pulumi.Output[LargeRecordsLocation | None],
    ) -> aws.iam.RolePolicy | None:
        """The task role's permission to store claim checks: a policy of its own, so the
        main task policy reads the same with the feature off."""
        if settings.named_large_records is None and not settings.infra.large_records_bucket:
            return None
        key = settings.bridge.large_records_kms_key_arn
        named = settings.named_large_records

        def document(location: LargeRecordsLocation | None) -> str:
            where = named if location is None else location
            assert where is not None
            statements = large_record_statements(
                where, key, partition=account.partition, region=account.region
            )
            return json.dumps({"Version": POLICY_VERSION, "Statement": statements})

        return aws.iam.RolePolicy(
            f"{name}-task-large-records",
            role=task_role.id,
            policy=created.apply(document),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _dead_letters(
        self, name: str, settings: StackSettings, tags: dict[str, str]
    ) -> pulumi.Output[DeadLetterTarget]:
        """The stack's dead-letter target; the stack's bucket when it names none, or when an
        SQS or SNS destination names no overflow location."""
        target = settings.dead_letter_target
        needs_bucket = target is None or (
            isinstance(target, MessageDestination) and target.overflow is None
        )
        if target is not None and not needs_bucket:
            return pulumi.Output.from_input(target)
        bucket = DeadLetterBucket(
            f"{name}-dead-letters",
            prefix=settings.infra.dlq_prefix,
            retention_days=settings.infra.dlq_retention_days,
            force_destroy=settings.infra.dlq_force_destroy,
            tags=tags,
            parent=self,
        )
        if isinstance(target, MessageDestination):
            return bucket.location.apply(target.with_overflow)
        return bucket.location


def _objects_arn(target: DeadLetterTarget, partition: str) -> str | None:
    """The S3 objects the task may write: the dead letters', or an SQS or SNS overflow's."""
    if isinstance(target, S3Location):
        return target.object_arn_pattern(partition)
    if isinstance(target, MessageDestination) and target.overflow is not None:
        return target.overflow.object_arn_pattern(partition)
    return None


def _message_statements(target: DeadLetterTarget, kms_key_arn: str | None) -> list[dict[str, Any]]:
    if not isinstance(target, MessageDestination):
        return []
    return dead_letter_message_statements(target.service, target.arn, kms_key_arn)


def _overflow_uri(target: DeadLetterTarget) -> str | None:
    if isinstance(target, MessageDestination) and target.overflow is not None:
        return target.overflow.uri
    return None
