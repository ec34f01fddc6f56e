"""The stack's secret settings as SSM SecureStrings, one parameter per secret the stack sets.

Generic over the declarations: a secret setting (`SecretStr` in `consumer/settings/`) that the
stack sets becomes `/kafka-to-lambda/<stack>/<key in kebab case>`, which ECS reads into the
setting's variable when a task starts (the task definition's `secrets`). Its value travels
as a Pulumi secret: never in plain state, the environment, or a log.

One secret is made when the stack sets none: `keyHashSecret`, which keys the key hashes of
the bridge's log lines, so equal keys hash alike in every task of a deployment and a hash
cannot be reversed by trying keys. It is random, made once: later `pulumi up`s keep the
value the parameter holds (`ignore_changes`), so hashes stay comparable across deployments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from secrets import token_urlsafe

import pulumi
import pulumi_aws as aws

from consumer.settings.model import DECLARATIONS
from infra.stack_config import PROJECT

_BY_FIELD = {declaration.field: declaration for declaration in DECLARATIONS}
KEY_HASH_SECRET = "key_hash_secret"


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
        stack_secrets = secrets
        if KEY_HASH_SECRET not in secrets:  # made here, random, once (see the docstring)
            secrets = {**secrets, KEY_HASH_SECRET: pulumi.Output.secret(token_urlsafe(32))}
        for field, value in secrets.items():
            declaration = _BY_FIELD[field]
            made = field not in stack_secrets
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
                opts=pulumi.ResourceOptions(
                    parent=parent,
                    # The made secret is random anew at every run: keep the first one.
                    ignore_changes=["value"] if made else None,
                ),
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
