"""Least privilege, statement by statement, in the policies the stacks render."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from infra.account import Account
from infra.iam import function_arn
from tests.support.pulumi_program import (
    ACCOUNT_ID,
    MINIMAL_CONFIG,
    SSM_KEY_ARN,
    Deployment,
    deploy,
    deploy_stack_file,
)

CASES = ["staging", "prod", "minimal"]
ACCOUNT = Account(account_id=ACCOUNT_ID, partition="aws", region="us-east-1")
LAMBDA = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function"


@cache
def _deployment(case: str) -> Deployment:
    return deploy(MINIMAL_CONFIG) if case == "minimal" else deploy_stack_file(case)


def _by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert policy["Version"] == "2012-10-17"
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert len(statements) == len(policy["Statement"]), "every statement has its own Sid"
    for statement in statements.values():
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement
        assert "NotResource" not in statement
    return statements


def _names(deployment: Deployment) -> dict[str, str]:
    """Physical names of the resources the policies point at."""
    component = deployment.one("kafka-to-lambda:index:Bridge").name
    return {
        "parameter": deployment.parameter("kafka-password").inputs["name"],
        "key_hash_parameter": deployment.parameter("key-hash-secret").inputs["name"],
        "log_group": deployment.one("aws:cloudwatch/logGroup:LogGroup").inputs["name"],
        "repository": f"{component}-repository-0123abc",
        "bucket": f"{component}-dead-letters-0123abc",
    }


@pytest.mark.parametrize("case", CASES)
def test_the_execution_role_reads_one_parameter_decrypts_with_its_key_pulls_one_repository(
    case: str,
) -> None:
    deployment = _deployment(case)
    names = _names(deployment)
    statements = _by_sid(deployment.role_policy("-execution"))
    assert statements == {
        "ReadSecrets": {
            "Sid": "ReadSecrets",
            "Effect": "Allow",
            "Action": "ssm:GetParameters",
            "Resource": [
                f"arn:aws:ssm:us-east-1:{ACCOUNT_ID}:parameter{names[parameter]}"
                for parameter in ("parameter", "key_hash_parameter")
            ],
        },
        "DecryptSecrets": {
            "Sid": "DecryptSecrets",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": SSM_KEY_ARN,
            "Condition": {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}},
        },
        "WriteContainerLogs": {
            "Sid": "WriteContainerLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": (
                f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:{names['log_group']}:log-stream:*"
            ),
        },
        "AuthenticateToEcr": {
            "Sid": "AuthenticateToEcr",
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        "PullImage": {
            "Sid": "PullImage",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            "Resource": f"arn:aws:ecr:us-east-1:{ACCOUNT_ID}:repository/{names['repository']}",
        },
    }


@pytest.mark.parametrize("case", CASES)
def test_the_task_role_invokes_and_reads_only_the_function_and_writes_only_under_the_dlq(
    case: str,
) -> None:
    deployment = _deployment(case)
    function = deployment.environment()["LAMBDA_FUNCTION_NAME"]
    statements = _by_sid(deployment.role_policy("-task"))
    assert statements == {
        "InvokeFunction": {
            "Sid": "InvokeFunction",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [f"{LAMBDA}:{function}", f"{LAMBDA}:{function}:*"],
        },
        "ReadFunctionTimeout": {
            "Sid": "ReadFunctionTimeout",
            "Effect": "Allow",
            "Action": "lambda:GetFunctionConfiguration",
            "Resource": [f"{LAMBDA}:{function}", f"{LAMBDA}:{function}:*"],
        },
        "WriteDeadLetters": {
            "Sid": "WriteDeadLetters",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{_names(deployment)['bucket']}/dead-letters/*",
        },
    }


@pytest.mark.parametrize("case", CASES)
def test_no_statement_grants_every_resource_but_the_ecr_token_which_has_none(case: str) -> None:
    deployment = _deployment(case)
    for role in ("-execution", "-task"):
        for statement in deployment.role_policy(role)["Statement"]:
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            assert all("*" not in action for action in actions), actions
            if "*" in resources:
                assert actions == ["ecr:GetAuthorizationToken"], statement


def test_dead_letters_to_kafka_give_the_task_no_s3_permission_at_all() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "dlq": "kafka://failed-records"})
    statements = _by_sid(deployment.role_policy("-task"))
    assert set(statements) == {"InvokeFunction", "ReadFunctionTimeout"}


def test_an_existing_dead_letter_bucket_is_writable_only_under_its_prefix() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "dlq": "s3://shared-bucket/bridge/failed"})
    statement = _by_sid(deployment.role_policy("-task"))["WriteDeadLetters"]
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"] == "arn:aws:s3:::shared-bucket/bridge/failed/*"


def test_a_public_prebuilt_image_needs_no_ecr_permission() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "image": "public.ecr.aws/example/bridge:1.0"})
    statements = _by_sid(deployment.role_policy("-execution"))
    assert set(statements) == {"ReadSecrets", "DecryptSecrets", "WriteContainerLogs"}


def test_a_prebuilt_ecr_image_is_pullable_from_its_repository_only() -> None:
    image = f"{ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com/team/bridge@sha256:{'0' * 64}"
    deployment = deploy({**MINIMAL_CONFIG, "image": image})
    statement = _by_sid(deployment.role_policy("-execution"))["PullImage"]
    assert statement["Resource"] == f"arn:aws:ecr:eu-west-1:{ACCOUNT_ID}:repository/team/bridge"


@pytest.mark.parametrize(
    ("configured", "arn"),
    [
        ("handler", f"{LAMBDA}:handler"),
        ("handler:live", f"{LAMBDA}:handler"),
        (f"{ACCOUNT_ID}:function:handler", f"{LAMBDA}:handler"),
        (
            "999999999999:function:handler:7",
            "arn:aws:lambda:us-east-1:999999999999:function:handler",
        ),
        (
            "arn:aws:lambda:eu-west-1:999999999999:function:handler:live",
            "arn:aws:lambda:eu-west-1:999999999999:function:handler",
        ),
    ],
)
def test_the_function_arn_covers_the_function_whatever_form_names_it(
    configured: str, arn: str
) -> None:
    assert function_arn(configured, ACCOUNT) == arn


def test_a_qualified_function_is_invokable_through_its_alias() -> None:
    deployment = deploy({**MINIMAL_CONFIG, "lambdaFunctionName": "handler:live"})
    resources = _by_sid(deployment.role_policy("-task"))["InvokeFunction"]["Resource"]
    assert resources == [f"{LAMBDA}:handler", f"{LAMBDA}:handler:*"]


@pytest.mark.parametrize("case", CASES)
def test_only_ecs_tasks_of_this_account_may_assume_the_roles(case: str) -> None:
    roles = _deployment(case).of_type("aws:iam/role:Role")
    assert len(roles) == 2
    for role in roles:
        trust = json.loads(role.inputs["assumeRolePolicy"])
        assert trust["Statement"] == [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
            }
        ]
        assert "managedPolicyArns" not in role.inputs  # only the inline policies above
