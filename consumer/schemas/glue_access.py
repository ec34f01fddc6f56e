"""What reading an AWS Glue schema registry takes: its ARN's parts, its schemas' ARNs, and the
IAM actions. The bridge's start-up check names them, and the Pulumi program grants them.

ARNs (AWS Service Authorization Reference, AWS Glue's resource types):
    registry  arn:<partition>:glue:<region>:<account>:registry/<registry name>
    schema    arn:<partition>:glue:<region>:<account>:schema/<registry name>/<schema name>

Imports: the standard library and consumer/settings/ only (the Pulumi program loads this module).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from consumer.settings.decoding import GLUE_REGISTRY_ARN

# GetRegistry: the start-up check (resource type registry, required). GetSchemaVersion: each
# record's schema (resource types registry and schema; Glue authorizes a lookup by version id
# against the schema the version belongs to and its registry).
GET_REGISTRY: Final = "glue:GetRegistry"
GET_SCHEMA_VERSION: Final = "glue:GetSchemaVersion"


@dataclass(frozen=True)
class GlueRegistryArn:
    partition: str
    region: str
    account: str
    name: str

    @classmethod
    def parse(cls, arn: str) -> GlueRegistryArn:
        """ValueError unless `arn` is a Glue registry's ARN."""
        match = GLUE_REGISTRY_ARN.fullmatch(arn)
        if match is None:
            raise ValueError(
                f"{arn!r} is not a Glue registry ARN (arn:aws:glue:<region>:<account>:"
                "registry/<name>)"
            )
        return cls(arn.split(":", 2)[1], match["region"], match["account"], match["name"])

    @property
    def arn(self) -> str:
        return f"{self._prefix}:registry/{self.name}"

    @property
    def schemas_arn_pattern(self) -> str:
        """Every schema of the registry (and so every version of each)."""
        return f"{self._prefix}:schema/{self.name}/*"

    def holds(self, schema_arn: str) -> bool:
        """Whether the schema with this ARN is one of the registry's."""
        return schema_arn.startswith(f"{self._prefix}:schema/{self.name}/")

    @property
    def _prefix(self) -> str:
        return f"arn:{self.partition}:glue:{self.region}:{self.account}"
