"""What the program declares for each stack file and for a minimal config, as the Pulumi
engine would receive it (mocks: no CLI, no cloud)."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from infra.container import HEALTH_CHECK_COMMAND, HEALTH_CHECK_TIMINGS_S, TMP_PATH
from infra.settings import CONFIG_DEFAULTS, MAX_STOP_TIMEOUT_S
from tests.support.pulumi_program import (
    ACCOUNT_ID,
    DEFAULT_VPC_ID,
    DEFAULT_VPC_SUBNETS,
    MINIMAL_CONFIG,
    OPERATOR_VALUES,
    TEST_PASSWORD,
    Deployment,
    deploy,
    deploy_stack_file,
    plaintext_strings,
    run_program,
    secret_values,
    stack_file_config,
)

REPO = Path(__file__).resolve().parents[2]
STACKS = ["staging", "prod"]
CASES = [*STACKS, "minimal"]

# The resources every stack with a built image and its own dead-letter bucket declares.
EXPECTED_RESOURCES = Counter(
    {
        "kafka-to-lambda:index:Bridge": 1,
        "aws:ecr/repository:Repository": 1,
        "aws:ecr/lifecyclePolicy:LifecyclePolicy": 1,
        "docker:index/image:Image": 1,
        "aws:ssm/parameter:Parameter": 2,  # the password, and the key-hash secret it makes
        "aws:iam/role:Role": 2,
        "aws:iam/rolePolicy:RolePolicy": 2,
        "aws:ec2/securityGroup:SecurityGroup": 1,
        "aws:cloudwatch/logGroup:LogGroup": 1,
        "aws:ecs/cluster:Cluster": 1,
        "aws:ecs/taskDefinition:TaskDefinition": 1,
        "aws:ecs/service:Service": 1,
        "aws:s3/bucket:Bucket": 1,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 1,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": 1,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": 1,
        "aws:s3/bucketPolicy:BucketPolicy": 1,
        "aws:s3/bucketVersioning:BucketVersioning": 1,
        # Monitoring (alarms are on by default; autoscaling, off by default, adds two)
        "aws:cloudwatch/dashboard:Dashboard": 1,
        "aws:sns/topic:Topic": 1,
        "aws:cloudwatch/metricAlarm:MetricAlarm": 5,
    }
)
SCALING_RESOURCES = Counter(
    {"aws:appautoscaling/target:Target": 1, "aws:appautoscaling/policy:Policy": 1}
)
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
DEAD_LETTER_BUCKET_TYPES = {
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketVersioning:BucketVersioning",
}


@cache
def _deployment(case: str) -> Deployment:
    return deploy(MINIMAL_CONFIG) if case == "minimal" else deploy_stack_file(case)


def _config(case: str) -> dict[str, object]:
    """The config the case deploys (prod: plus the operator's values)."""
    return (
        dict(MINIMAL_CONFIG)
        if case == "minimal"
        else {**OPERATOR_VALUES, **stack_file_config(case)}
    )


def _expected(case: str, key: str) -> object:
    return _config(case).get(key, CONFIG_DEFAULTS[key])


@pytest.mark.parametrize("case", CASES)
def test_the_stack_declares_the_bridges_resources_all_inside_the_component(case: str) -> None:
    deployment = _deployment(case)
    expected = EXPECTED_RESOURCES.copy()
    if _expected(case, "autoscaling"):
        expected.update(SCALING_RESOURCES)
    assert Counter(r.type for r in deployment.resources) == expected
    component = deployment.one("kafka-to-lambda:index:Bridge")
    assert component.name == f"kafka-to-lambda-{'test' if case == 'minimal' else case}"
    for resource in deployment.resources:
        if resource is not component:
            assert resource.parent.endswith(f"::{component.name}"), resource.name


@pytest.mark.parametrize("case", CASES)
def test_the_service_runs_the_configured_task_count_and_rolls_back_a_failed_deployment(
    case: str,
) -> None:
    service = _deployment(case).one("aws:ecs/service:Service").inputs
    autoscaled = _expected(case, "autoscaling")
    assert service["desiredCount"] == _expected(case, "minTasks" if autoscaled else "desiredCount")
    assert service["launchType"] == "FARGATE"
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["waitForSteadyState"] is True
    network = service["networkConfiguration"]
    assert network["securityGroups"] == ["sg-0mock"]
    assert network["assignPublicIp"] is True


def test_prod_scales_on_lag_from_two_tasks_and_staging_runs_one() -> None:
    prod = _deployment("prod")
    service = prod.one("aws:ecs/service:Service")
    assert service.inputs["desiredCount"] == 2
    # The scaling policy owns the count: `pulumi up` does not set it back to 2.
    assert service.ignore_changes == ("desiredCount",)
    target = prod.one("aws:appautoscaling/target:Target").inputs
    assert (target["minCapacity"], target["maxCapacity"]) == (2, 20)
    # Membership changes stop only what moves: scale-in need not wait out a quarter of an
    # hour, and it still waits longer than scale-out, so a lull does not flap.
    policy = prod.one("aws:appautoscaling/policy:Policy").inputs
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert tracking["scaleInCooldown"] == 300
    assert tracking["scaleOutCooldown"] < tracking["scaleInCooldown"]
    staging = _deployment("staging").one("aws:ecs/service:Service")
    assert (staging.inputs["desiredCount"], staging.ignore_changes) == (1, ())
    assert not _deployment("staging").of_type("aws:appautoscaling/target:Target")


@pytest.mark.parametrize("case", CASES)
def test_the_task_is_fargate_sized_as_configured_non_root_with_a_read_only_root(
    case: str,
) -> None:
    deployment = _deployment(case)
    task = deployment.one("aws:ecs/taskDefinition:TaskDefinition").inputs
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"
    assert task["cpu"] == str(_expected(case, "cpu"))
    assert task["memory"] == str(_expected(case, "memory"))
    assert task["runtimePlatform"] == {
        "operatingSystemFamily": "LINUX",
        "cpuArchitecture": "X86_64",
    }
    component = deployment.one("kafka-to-lambda:index:Bridge").name
    assert task["executionRoleArn"].endswith(f":role/{component}-execution-0123abc")
    assert task["taskRoleArn"].endswith(f":role/{component}-task-0123abc")
    container = deployment.container()
    assert container["readonlyRootFilesystem"] is True
    assert container["user"].split(":")[0] not in ("0", "root")
    assert container["essential"] is True


@pytest.mark.parametrize("case", CASES)
def test_the_heartbeat_directory_is_a_writable_task_volume_and_the_health_check_reads_it(
    case: str,
) -> None:
    deployment = _deployment(case)
    task = deployment.one("aws:ecs/taskDefinition:TaskDefinition").inputs
    (volume,) = task["volumes"]
    assert set(volume) == {"name"}, "no host path: Fargate's task storage"
    container = deployment.container()
    assert container["mountPoints"] == [
        {"sourceVolume": volume["name"], "containerPath": TMP_PATH, "readOnly": False}
    ]
    assert "HEALTH_FILE" not in deployment.environment()  # the default, under /tmp
    check = container["healthCheck"]
    assert check["command"] == ["CMD", *HEALTH_CHECK_COMMAND]
    assert {k: v for k, v in check.items() if k != "command"} == HEALTH_CHECK_TIMINGS_S


@pytest.mark.parametrize(("drain_s", "stop_s"), [(30, 40), (0, 10), (110, MAX_STOP_TIMEOUT_S)])
def test_ecs_waits_longer_than_the_bridge_drains_before_killing_it(
    drain_s: int, stop_s: int
) -> None:
    deployment = deploy({**MINIMAL_CONFIG, "shutdownTimeoutSeconds": drain_s})
    assert deployment.container()["stopTimeout"] == stop_s
    assert stop_s > drain_s


@pytest.mark.parametrize("case", CASES)
def test_the_container_logs_to_the_stacks_log_group_with_its_retention(case: str) -> None:
    deployment = _deployment(case)
    group = deployment.one("aws:cloudwatch/logGroup:LogGroup").inputs
    assert group["retentionInDays"] == _expected(case, "logRetentionDays")
    options = deployment.container()["logConfiguration"]["options"]
    assert deployment.container()["logConfiguration"]["logDriver"] == "awslogs"
    assert options["awslogs-group"] == group["name"]
    assert options["awslogs-region"] == "us-east-1"


@pytest.mark.parametrize("case", CASES)
def test_the_password_is_an_ssm_securestring_whose_value_is_a_pulumi_secret(case: str) -> None:
    parameter = _deployment(case).parameter("kafka-password").inputs
    assert parameter["type"] == "SecureString"
    assert parameter["tier"] == "Intelligent-Tiering"  # Standard until a value needs more
    assert list(secret_values(parameter["value"])) == [TEST_PASSWORD]
    assert "keyId" not in parameter  # the account's aws/ssm key


def test_a_configured_kms_key_encrypts_the_password_and_is_the_only_one_decryptable() -> None:
    key = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    deployment = deploy({**MINIMAL_CONFIG, "kmsKeyId": key})
    for parameter in deployment.of_type("aws:ssm/parameter:Parameter"):
        assert parameter.inputs["keyId"] == key
    decrypt = [
        s for s in deployment.role_policy("-execution")["Statement"] if s["Action"] == "kms:Decrypt"
    ]
    assert [s["Resource"] for s in decrypt] == [key]


@pytest.mark.parametrize("case", CASES)
def test_no_resource_input_or_output_holds_the_password_in_plaintext(case: str) -> None:
    deployment = _deployment(case)
    for resource in deployment.resources:
        for text in plaintext_strings(resource.inputs):
            assert TEST_PASSWORD not in text, f"{resource.type} {resource.name}"
    for name, (value, is_secret) in deployment.outputs.items():
        assert is_secret or TEST_PASSWORD not in json.dumps(value), name


def test_the_plaintext_search_finds_a_password_outside_a_secret() -> None:
    leaked = {"containerDefinitions": json.dumps([{"environment": [TEST_PASSWORD]}])}
    assert any(TEST_PASSWORD in text for text in plaintext_strings(leaked))


@pytest.mark.parametrize("case", CASES)
def test_the_stack_exports_where_everything_is_without_secrets(case: str) -> None:
    outputs = _deployment(case).outputs
    assert set(outputs) == {
        "image",
        "clusterName",
        "serviceName",
        "logGroupName",
        "secretParameterNames",
        "deadLetters",
        "dashboardName",
        "alarmTopicArn",
    }
    stack = "test" if case == "minimal" else case
    assert outputs["secretParameterNames"][0] == {
        "kafkaPassword": f"/kafka-to-lambda/{stack}/kafka-password",
        "keyHashSecret": f"/kafka-to-lambda/{stack}/key-hash-secret",
    }
    assert outputs["deadLetters"][0].startswith("s3://")
    assert re.search(r"@sha256:[0-9a-f]{64}$", outputs["image"][0])


@pytest.mark.parametrize("case", CASES)
def test_destroy_deletes_the_image_repository_with_its_images(case: str) -> None:
    repository = _deployment(case).one("aws:ecr/repository:Repository")
    assert repository.inputs["forceDelete"] is True
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert not repository.retain_on_delete


@pytest.mark.parametrize("case", CASES)
def test_the_repository_keeps_only_the_newest_images(case: str) -> None:
    policy = json.loads(
        _deployment(case).one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"]
    )
    (rule,) = policy["rules"]
    assert rule["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": _expected(case, "imageRetentionCount"),
    }
    assert rule["action"] == {"type": "expire"}


@pytest.mark.parametrize("case", CASES)
def test_the_image_is_built_here_for_the_tasks_architecture_and_pushed_with_ecr_credentials(
    case: str,
) -> None:
    deployment = _deployment(case)
    image = deployment.one("docker:index/image:Image").inputs
    repository_url = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/"
    assert image["build"] == {"context": ".", "dockerfile": "Dockerfile", "platform": "linux/amd64"}
    assert image["imageName"].startswith(repository_url)
    # The token makes the whole registry block secret.
    (registry,) = secret_values(image["registry"])
    assert registry["server"].startswith(repository_url)
    assert (registry["username"], registry["password"]) == ("AWS", "ecr-registry-token")
    assert deployment.called("aws:ecr/getAuthorizationToken:getAuthorizationToken")
    assert deployment.container()["image"] == deployment.outputs["image"][0]


def test_an_arm64_task_gets_an_arm64_image() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "cpuArchitecture": "ARM64"})
    assert deployment.one("docker:index/image:Image").inputs["build"]["platform"] == "linux/arm64"
    task = deployment.one("aws:ecs/taskDefinition:TaskDefinition").inputs
    assert task["runtimePlatform"]["cpuArchitecture"] == "ARM64"


def test_a_prebuilt_image_is_run_as_given_and_nothing_is_built_or_pushed() -> None:
    image = "public.ecr.aws/example/kafka-to-lambda:1.2.3"
    deployment = deploy({**MINIMAL_CONFIG, "image": image})
    assert deployment.of_type("docker:index/image:Image") == []
    assert deployment.of_type("aws:ecr/repository:Repository") == []
    assert deployment.called("aws:ecr/getAuthorizationToken:getAuthorizationToken") == []
    assert deployment.container()["image"] == image
    assert deployment.outputs["image"][0] == image


@pytest.mark.parametrize("case", CASES)
def test_destroy_keeps_the_dead_letter_bucket_and_its_settings(case: str) -> None:
    deployment = _deployment(case)
    bucket_resources = [r for r in deployment.resources if r.type in DEAD_LETTER_BUCKET_TYPES]
    assert len(bucket_resources) == len(DEAD_LETTER_BUCKET_TYPES)
    for resource in bucket_resources:
        assert resource.retain_on_delete, f"{resource.type} would be deleted"
    assert deployment.one("aws:s3/bucket:Bucket").inputs["forceDestroy"] is False
    others = [r for r in deployment.resources if r.type not in DEAD_LETTER_BUCKET_TYPES]
    assert not any(r.retain_on_delete or r.protect for r in others)


def test_dlq_force_destroy_lets_destroy_delete_the_bucket_and_its_letters() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "dlqForceDestroy": True})
    assert deployment.one("aws:s3/bucket:Bucket").inputs["forceDestroy"] is True
    assert not any(r.retain_on_delete for r in deployment.resources)


@pytest.mark.parametrize("case", CASES)
def test_the_dead_letter_bucket_is_encrypted_private_and_expires_letters(case: str) -> None:
    deployment = _deployment(case)
    block = deployment.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[flag] is True
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    encryption = deployment.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs
    (rule,) = encryption["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    lifecycle = deployment.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    ).inputs
    expiry, markers = lifecycle["rules"]
    days = _expected(case, "dlqRetentionDays")
    for rule in (expiry, markers):
        assert rule["status"] == "Enabled"
        assert rule["filter"] == {"prefix": CONFIG_DEFAULTS["dlqPrefix"]}
    assert expiry["expiration"] == {"days": days}
    # Versions are kept (a letter redrive moved aside can be had back), and expire as the
    # letters do.
    assert expiry["noncurrentVersionExpiration"] == {"noncurrentDays": days}
    assert markers["expiration"] == {"expiredObjectDeleteMarker": True}
    versioning = deployment.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    tls_only = json.loads(deployment.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    (deny,) = tls_only["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket = deployment.one("aws:s3/bucket:Bucket")
    bucket_arn = f"arn:aws:s3:::{bucket.inputs.get('bucket', f'{bucket.name}-0123abc')}"
    assert deny["Resource"] == [bucket_arn, f"{bucket_arn}/*"]
    for resource in (block, encryption, lifecycle, versioning):
        assert resource["bucket"] == bucket.inputs.get("bucket", f"{bucket.name}-0123abc")
    assert deployment.environment()["DLQ"] == (
        f"s3://{bucket.name}-0123abc/{CONFIG_DEFAULTS['dlqPrefix']}"
    )


@pytest.mark.parametrize("dlq", ["s3://existing-bucket/failed/", "kafka://failed-records"])
def test_an_existing_dead_letter_destination_creates_no_bucket(dlq: str) -> None:
    deployment = deploy({**MINIMAL_CONFIG, "dlq": dlq})
    assert not [r for r in deployment.resources if r.type in DEAD_LETTER_BUCKET_TYPES]
    assert deployment.environment()["DLQ"] == dlq
    assert deployment.outputs["deadLetters"][0] == dlq


@pytest.mark.parametrize("case", CASES)
def test_the_default_vpc_and_its_subnets_are_used_when_no_network_is_configured(
    case: str,
) -> None:
    deployment = _deployment(case)
    assert deployment.called("aws:ec2/getVpc:getVpc") == [{"default": True}]
    group = deployment.one("aws:ec2/securityGroup:SecurityGroup").inputs
    assert group["vpcId"] == DEFAULT_VPC_ID
    subnets = deployment.one("aws:ecs/service:Service").inputs["networkConfiguration"]["subnets"]
    assert subnets == sorted(DEFAULT_VPC_SUBNETS)


def test_a_configured_network_is_used_without_any_lookup() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "vpcId": "vpc-0own", "subnetIds": ["subnet-0a"]})
    assert deployment.called("aws:ec2/getVpc:getVpc") == []
    assert deployment.called("aws:ec2/getSubnets:getSubnets") == []
    assert deployment.one("aws:ec2/securityGroup:SecurityGroup").inputs["vpcId"] == "vpc-0own"
    network = deployment.one("aws:ecs/service:Service").inputs["networkConfiguration"]
    assert network["subnets"] == ["subnet-0a"]


def test_a_configured_vpc_without_subnets_uses_that_vpcs_subnets_not_the_default_vpc() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "vpcId": "vpc-0own", "assignPublicIp": False})
    assert deployment.called("aws:ec2/getVpc:getVpc") == []
    (lookup,) = deployment.called("aws:ec2/getSubnets:getSubnets")
    assert lookup["filters"] == [{"name": "vpc-id", "values": ["vpc-0own"]}]
    network = deployment.one("aws:ecs/service:Service").inputs["networkConfiguration"]
    assert network["subnets"] == ["vpc-0own-subnet-1", "vpc-0own-subnet-2"]
    assert network["assignPublicIp"] is False


def test_an_account_without_a_default_vpc_gets_an_error_naming_the_settings_to_set() -> None:
    deployment = run_program(MINIMAL_CONFIG, has_default_vpc=False)
    message = str(deployment.error)
    assert "no default VPC" in message
    assert "pulumi config set vpcId" in message
    assert "subnetIds" in message
    assert deployment.resources == []


@pytest.mark.parametrize("case", CASES)
def test_the_security_group_lets_nothing_in_and_only_https_and_kafka_out(case: str) -> None:
    group = _deployment(case).one("aws:ec2/securityGroup:SecurityGroup").inputs
    assert group.get("ingress", []) == []
    rules = sorted((rule["fromPort"], rule["toPort"], rule["protocol"]) for rule in group["egress"])
    servers = str(_expected(case, "bootstrapServers")).split(",")
    kafka_ports = {int(server.rsplit(":", 1)[1]) for server in servers}
    assert rules == sorted((port, port, "tcp") for port in {443, *kafka_ports})
    assert all(rule["cidrBlocks"] == ["0.0.0.0/0"] for rule in group["egress"])


@pytest.mark.parametrize("case", CASES)
def test_the_cluster_has_container_insights(case: str) -> None:
    cluster = _deployment(case).one("aws:ecs/cluster:Cluster").inputs
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]


@pytest.mark.parametrize("case", CASES)
def test_a_rotated_password_restarts_the_tasks_which_read_it_only_when_they_start(
    case: str,
) -> None:
    service = _deployment(case).one("aws:ecs/service:Service").inputs
    assert service["forceNewDeployment"] is True
    # The versions of the password's parameter and the key-hash secret's.
    assert service["triggers"] == {"secretVersions": "1,1"}


def test_a_stack_without_a_key_hash_secret_gets_a_random_one_kept_across_runs() -> None:
    first, second = deploy(MINIMAL_CONFIG), deploy(MINIMAL_CONFIG)
    made = [d.parameter("key-hash-secret") for d in (first, second)]
    values = [list(secret_values(p.inputs["value"])) for p in made]
    assert all(len(value) == 1 and len(value[0]) >= 32 for value in values)
    assert values[0] != values[1], "random at every run..."
    assert all(p.ignore_changes == ("value",) for p in made), "...so the first one is kept"
    assert first.parameter("kafka-password").ignore_changes == ()


def test_a_key_hash_secret_the_stack_sets_is_used_and_follows_the_stack() -> None:
    deployment = deploy(MINIMAL_CONFIG, secrets={"keyHashSecret": "the-operators-own-key-9"})
    parameter = deployment.parameter("key-hash-secret")
    assert list(secret_values(parameter.inputs["value"])) == ["the-operators-own-key-9"]
    assert parameter.ignore_changes == ()


def test_the_tasks_start_only_after_their_roles_policies_exist() -> None:
    """A task started before the execution policy cannot read its secrets, and the circuit
    breaker would roll the deployment back for it."""
    deployment = deploy(MINIMAL_CONFIG)
    policies = {r.name for r in deployment.of_type("aws:iam/rolePolicy:RolePolicy")}
    assert len(policies) == 2
    for kind in ("aws:ecs/taskDefinition:TaskDefinition", "aws:ecs/service:Service"):
        depends_on = {urn.rsplit("::", 1)[-1] for urn in deployment.one(kind).dependencies}
        assert policies <= depends_on, kind


def test_a_log_group_key_encrypts_the_logs_when_the_stack_names_one() -> None:
    key = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert "kmsKeyId" not in deploy(MINIMAL_CONFIG).one(LOG_GROUP).inputs
    encrypted = deploy({**MINIMAL_CONFIG, "logKmsKeyArn": key}).one(LOG_GROUP)
    assert encrypted.inputs["kmsKeyId"] == key
