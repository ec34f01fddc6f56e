"""The Pulumi program: `pulumi up --stack staging|prod` deploys the bridge to ECS Fargate."""

import pulumi

from infra import Bridge, StackSettings

settings = StackSettings.from_config()  # every setting checked before anything is declared
bridge = Bridge(f"{pulumi.get_project()}-{pulumi.get_stack()}", settings)

pulumi.export("image", bridge.image_ref)
pulumi.export("clusterName", bridge.cluster_name)
pulumi.export("serviceName", bridge.service_name)
pulumi.export("logGroupName", bridge.log_group_name)
pulumi.export("secretParameterNames", bridge.secret_parameter_names)
pulumi.export("deadLetters", bridge.dead_letters)
pulumi.export("dashboardName", bridge.dashboard_name)
if bridge.alarm_topic_arn is not None:
    pulumi.export("alarmTopicArn", bridge.alarm_topic_arn)
