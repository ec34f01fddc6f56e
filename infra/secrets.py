"""The stack's secret settings as SSM SecureStrings, one parameter per secret the stack sets.

Generic over the declarations: a secret setting (`SecretStr` in `consumer/settings/`) that the
stack sets becomes `/kafka-to-lambda/<stack>/<key in kebab case>`, which ECS reads into the
setting's variable when a task starts (the task definition's `secrets`). Its value travels
as a Pulumi secret: never in plain state, the environment, or a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from consumer.settings.model import DECLARATIONS
from infra.stack_config import PROJECT

_BY_FIELD = {declaration.field: declaration for declaration in DECLARATIONS}


def kebab_case(key: str) -> str:
    """`kafkaPassword` → `kafka-password`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower()


class SecretParameters:
    """The SecureStrings of a stack's secrets, and what ECS and IAM need to know of them."""

    def __init__(
        self,
        name: str,
        secrets: Mapping[str, pulumi.Output[str]],
        *,
        kms_key_id: str | None,
        tags: dict[str, str],
        parent: pulumi.Resource,
    ) -> None:
        self.parameters = {}  # field → its parameter
        for field, value in secrets.items():
            declaration = _BY_FIELD[field]
            slug = kebab_case(str(declaration.stack_key))
            self.parameters[field] = aws.ssm.Parameter(
                f"{name}-{slug}",
                name=f"/{PROJECT}/{pulumi.get_stack()}/{slug}",
                description=declaration.doc,
                type="SecureString",
                value=value,
                # Standard parameters hold 4,096 characters; a certificate chain may not fit.
                # Intelligent-Tiering stays Standard (free) unless a value needs Advanced.
                tier="Intelligent-Tiering",
                key_id=kms_key_id,  # None: the account's aws/ssm key
                tags=tags,
                opts=pulumi.ResourceOptions(parent=parent),
            )

    @property
    def arns(self) -> pulumi.Output[list[str]]:
        return pulumi.Output.all(*(p.arn for p in self.parameters.values()))

    @property
    def by_variable(self) -> pulumi.Output[dict[str, str]]:
        """Variable → parameter ARN: the task definition's `secrets`."""
        return _all({_BY_FIELD[f].env: p.arn for f, p in self.parameters.items()})

    @property
    def names(self) -> pulumi.Output[dict[str, str]]:
        """Stack key → parameter name, for the operator (a stack output)."""
        return _all({str(_BY_FIELD[f].stack_key): p.name for f, p in self.parameters.items()})

    @property
    def versions(self) -> pulumi.Output[str]:
        """Changes whenever a secret is set anew: tasks read secrets only when they start."""
        return pulumi.Output.all(
            *(parameter.version.apply(str) for parameter in self.parameters.values())
        ).apply(",".join)


def _all(outputs: Mapping[str, pulumi.Output[str]]) -> pulumi.Output[dict[str, str]]:
    # Output.all() of no keywords gives a list, not an empty dict.
    if not outputs:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(**outputs)
