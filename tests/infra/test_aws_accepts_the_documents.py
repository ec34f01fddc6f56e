"""The rendered IAM policies and task definition, fed to AWS's APIs (moto in server mode):
malformed documents or parameters are refused there, as AWS would refuse them."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import boto3
import pytest

from tests.support.moto_fixtures import MotoServer
from tests.support.pulumi_program import MINIMAL_CONFIG, Deployment, deploy, deploy_stack_file

CASES = [
    "staging",
    "prod",
    "minimal",
    "glue registry",
    "confluent registry",
    "sqs dead letters",
    "sns dead letters",
]
_DLQ_KEY = f"arn:aws:kms:us-east-1:{'1' * 12}:key/0f0e0d0c-0b0a-0908-0706-050403020100"
# Stacks beside the files: each schema registry adds statements or secrets of its own.
STACKS: dict[str, tuple[dict[str, object], dict[str, str]]] = {
    "minimal": (MINIMAL_CONFIG, {}),
    "glue registry": (
        {
            **MINIMAL_CONFIG,
            "glueSchemaRegistryArn": f"arn:aws:glue:us-east-1:{'1' * 12}:registry/r",
        },
        {},
    ),
    "sqs dead letters": (
        {
            **MINIMAL_CONFIG,
            "dlq": f"arn:aws:sqs:us-east-1:{'1' * 12}:dead-letters.fifo",
            "dlqOverflow": "s3://big-letters/bridge/",
            "dlqKmsKeyArn": _DLQ_KEY,
        },
        {},
    ),
    "sns dead letters": (
        {**MINIMAL_CONFIG, "dlq": f"arn:aws:sns:us-east-1:{'1' * 12}:dead-letters"},
        {},
    ),
    "confluent registry": (
        {**MINIMAL_CONFIG, "schemaRegistryUrl": "https://sr.example.com", "schemaRegistryKey": "k"},
        {"schemaRegistrySecret": "s"},
    ),
}


@cache
def _deployment(case: str) -> Deployment:
    if case in STACKS:
        config, secrets = STACKS[case]
        return deploy(config, secrets=secrets)
    return deploy_stack_file(case)


def _client(moto_server: MotoServer, service: str) -> Any:
    return boto3.client(service, **moto_server.client_kwargs())


@pytest.mark.parametrize("case", CASES)
def test_iam_accepts_the_trust_and_permission_policies(case: str, moto_server: MotoServer) -> None:
    iam = _client(moto_server, "iam")
    deployment = _deployment(case)
    for role in deployment.of_type("aws:iam/role:Role"):
        name = f"{case}-{role.name}"
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=role.inputs["assumeRolePolicy"])
        iam.update_assume_role_policy(
            RoleName=name, PolicyDocument=role.inputs["assumeRolePolicy"]
        )  # validates the trust policy
        suffix = role.name.rsplit("-", 1)[-1]
        policy = json.dumps(deployment.role_policy(f"-{suffix}"))
        iam.put_role_policy(RoleName=name, PolicyName="bridge", PolicyDocument=policy)
        stored = iam.get_role_policy(RoleName=name, PolicyName="bridge")["PolicyDocument"]
        assert stored == json.loads(policy)


def test_iam_refuses_a_malformed_policy(moto_server: MotoServer) -> None:
    iam = _client(moto_server, "iam")
    role = _deployment("minimal").of_type("aws:iam/role:Role")[0]
    iam.create_role(RoleName="malformed", AssumeRolePolicyDocument=role.inputs["assumeRolePolicy"])
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject"}]}
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.put_role_policy(RoleName="malformed", PolicyName="bad", PolicyDocument=json.dumps(bad))


@pytest.mark.parametrize("case", CASES)
def test_ecs_registers_the_task_definition(case: str, moto_server: MotoServer) -> None:
    ecs = _client(moto_server, "ecs")
    task = _deployment(case).one("aws:ecs/taskDefinition:TaskDefinition").inputs
    # botocore checks every field of the container definitions against ECS's API model.
    registered = ecs.register_task_definition(
        family=f"{case}-{task['family']}",
        containerDefinitions=json.loads(task["containerDefinitions"]),
        requiresCompatibilities=task["requiresCompatibilities"],
        networkMode=task["networkMode"],
        cpu=task["cpu"],
        memory=task["memory"],
        executionRoleArn=task["executionRoleArn"],
        taskRoleArn=task["taskRoleArn"],
        volumes=task["volumes"],
        runtimePlatform=task["runtimePlatform"],
    )["taskDefinition"]
    (container,) = registered["containerDefinitions"]
    assert container["secrets"] == json.loads(task["containerDefinitions"])[0]["secrets"]
    assert container["healthCheck"]["command"][0] == "CMD"


def _s3_shape(value: Any) -> Any:
    """Pulumi's camelCase inputs as S3's API names them (`id` → `ID`, `filter` → `Filter`),
    numbers as the API's ints (Pulumi's are floats)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_s3_shape(item) for item in value]
    if isinstance(value, dict):
        return {
            ("ID" if key == "id" else key[0].upper() + key[1:]): _s3_shape(item)
            for key, item in value.items()
        }
    return value


def test_s3_takes_the_dead_letter_buckets_policy_versioning_and_lifecycle(
    moto_server: MotoServer,
) -> None:
    s3 = _client(moto_server, "s3")
    deployment = _deployment("minimal")
    s3.create_bucket(Bucket="dead-letters-check")
    policy = json.loads(deployment.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    arn = "arn:aws:s3:::dead-letters-check"
    policy["Statement"][0]["Resource"] = [arn, f"{arn}/*"]
    s3.put_bucket_policy(Bucket="dead-letters-check", Policy=json.dumps(policy))
    versioning = deployment.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    s3.put_bucket_versioning(
        Bucket="dead-letters-check",
        VersioningConfiguration=_s3_shape(versioning["versioningConfiguration"]),
    )
    lifecycle = deployment.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    ).inputs
    rules = _s3_shape(lifecycle["rules"])
    s3.put_bucket_lifecycle_configuration(
        Bucket="dead-letters-check", LifecycleConfiguration={"Rules": rules}
    )
    stored = s3.get_bucket_lifecycle_configuration(Bucket="dead-letters-check")["Rules"]
    assert [rule["ID"] for rule in stored] == [rule["ID"] for rule in rules]
    assert s3.get_bucket_versioning(Bucket="dead-letters-check")["Status"] == "Enabled"
