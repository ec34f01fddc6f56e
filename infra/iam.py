"""The two roles' policy documents, as plain data: least privilege, statement by statement.

- Execution role (ECS pulls the image, writes logs, reads the secrets for the container):
  read the stack's secret SSM parameters, decrypt with their key only through SSM, pull from the one
  repository, write log streams of the one log group. `*` only for
  `ecr:GetAuthorizationToken`, which has no resource to name.
- Task role (the bridge itself): invoke the one function (and its versions and aliases),
  put objects under the dead-letter prefix; with an SQS or SNS dead-letter destination, send
  to that queue or publish to that topic (and read its attributes at start-up), put objects
  under the overflow prefix, and with `dlqKmsKeyArn` use that key to encrypt; with MSK IAM,
  the cluster actions of infra/msk.py on that cluster, its topics and its group; with a Glue
  schema registry, the reads of infra/schema_registry.py on that registry and its schemas.
  Nothing else here; claim checks get a policy of their own (infra/large_records.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

from infra.account import Account

POLICY_VERSION: Final = "2012-10-17"

_QUALIFIER = r"(?::[A-Za-z0-9$_-]+)?"
_NAME = r"(?P<name>[A-Za-z0-9_-]{1,64})"
_FUNCTION_ARN = re.compile(
    r"^arn:(?P<partition>[a-z-]+):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    + _NAME
    + _QUALIFIER
    + "$"
)
_PARTIAL_FUNCTION_ARN = re.compile(r"^(?P<account>\d{12}):function:" + _NAME + _QUALIFIER + "$")
_FUNCTION_NAME = re.compile("^" + _NAME + _QUALIFIER + "$")


def check_function_name(function: str) -> None:
    """ValueError unless `function` is a name, partial ARN or ARN, with an optional qualifier."""
    if not any(p.match(function) for p in (_FUNCTION_ARN, _PARTIAL_FUNCTION_ARN, _FUNCTION_NAME)):
        raise ValueError(
            "use a function name, name:alias, 123456789012:function:name or a function ARN"
        )


def function_arn(function: str, account: Account) -> str:
    """The unqualified ARN of the function `function` names (in `account` unless it says)."""
    check_function_name(function)
    if match := _FUNCTION_ARN.match(function):
        return (
            f"arn:{match['partition']}:lambda:{match['region']}:{match['account']}:"
            f"function:{match['name']}"
        )
    if match := _PARTIAL_FUNCTION_ARN.match(function):
        return (
            f"arn:{account.partition}:lambda:{account.region}:{match['account']}:"
            f"function:{match['name']}"
        )
    match = _FUNCTION_NAME.match(function)
    assert match is not None
    return account.arn("lambda", f"function:{match['name']}")


def ecs_tasks_trust_policy(account: Account) -> dict[str, Any]:
    """Only ECS tasks of this account may assume the role."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account.account_id}},
            }
        ],
    }


def execution_policy(
    *,
    account: Account,
    secret_parameter_arns: Sequence[str],
    secret_key_arn: str,
    log_group_arn: str,
    repository_arn: str | None,
) -> dict[str, Any]:
    """What ECS needs to start the container; `repository_arn` None: not an ECR image."""
    statements: list[dict[str, Any]] = []
    if secret_parameter_arns:
        statements += [
            {
                "Sid": "ReadSecrets",
                "Effect": "Allow",
                "Action": "ssm:GetParameters",
                "Resource": sorted(secret_parameter_arns),
            },
            {
                "Sid": "DecryptSecrets",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": secret_key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"ssm.{account.region}.amazonaws.com"}
                },
            },
        ]
    statements.append(
        {
            "Sid": "WriteContainerLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            # ECS names the streams (prefix/container/task id) when tasks start.
            "Resource": f"{log_group_arn}:log-stream:*",
        }
    )
    if repository_arn is not None:
        statements += [
            {
                "Sid": "AuthenticateToEcr",
                "Effect": "Allow",
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "*",  # the API has no resource-level permissions
            },
            {
                "Sid": "PullImage",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                "Resource": repository_arn,
            },
        ]
    return {"Version": POLICY_VERSION, "Statement": statements}


def dead_letter_message_statements(
    service: str, arn: str, kms_key_arn: str | None
) -> list[dict[str, Any]]:
    """Sending dead letters to one SQS queue or publishing them to one SNS topic; reading its
    attributes (the bridge checks it at start-up, and reads a queue's message size limit);
    with a customer managed key, what SQS and SNS need of the sender to encrypt."""
    if service == "sqs":
        statements: list[dict[str, Any]] = [
            {
                "Sid": "SendDeadLetters",
                "Effect": "Allow",
                "Action": ["sqs:GetQueueAttributes", "sqs:SendMessage"],
                "Resource": arn,
            }
        ]
    else:
        statements = [
            {
                "Sid": "PublishDeadLetters",
                "Effect": "Allow",
                "Action": ["sns:GetTopicAttributes", "sns:Publish"],
                "Resource": arn,
            }
        ]
    if kms_key_arn is not None:
        statements.append(
            {
                "Sid": "EncryptDeadLetters",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": kms_key_arn,
            }
        )
    return statements


def task_policy(
    *,
    function_arn: str,
    dead_letter_objects_arn: str | None,
    dead_letter_message_statements: Sequence[dict[str, Any]] = (),
    kafka_statements: Sequence[dict[str, Any]] = (),
    schema_registry_statements: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """What the bridge may do; `dead_letter_objects_arn` None: dead letters go to Kafka
    (with an SQS or SNS destination, it is the overflow prefix's objects);
    `dead_letter_message_statements`: sending to that queue or topic;
    `kafka_statements`: the cluster's own actions, where IAM authorizes them (MSK IAM);
    `schema_registry_statements`: reading a Glue schema registry."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "InvokeFunction",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": [function_arn, f"{function_arn}:*"],  # the function, its versions/aliases
        },
        {
            # Its timeout: a rebalance waits that long for invocations in flight.
            "Sid": "ReadFunctionTimeout",
            "Effect": "Allow",
            "Action": "lambda:GetFunctionConfiguration",
            "Resource": [function_arn, f"{function_arn}:*"],
        },
    ]
    if dead_letter_objects_arn is not None:
        statements.append(
            {
                "Sid": "WriteDeadLetters",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": dead_letter_objects_arn,
            }
        )
    statements.extend(dead_letter_message_statements)
    statements.extend(kafka_statements)
    statements.extend(schema_registry_statements)
    return {"Version": POLICY_VERSION, "Statement": statements}
