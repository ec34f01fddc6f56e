"""The schema registries on the deployment's side: what the task may reach and read.

- A Glue registry (glueSchemaRegistryArn): the task role may read that registry and its
  schemas, nothing else of Glue. `glue:GetRegistry` on the registry is the bridge's start-up
  check; `glue:GetSchemaVersion` on the registry and its schemas is each record's schema. The
  Service Authorization Reference lists GetSchemaVersion's resource types as `registry` and
  `schema`, and Glue's deserializer guide limits the action to registries by `Resource`; a
  lookup by version id is authorized against the schema and registry the version belongs to.
- A Confluent-compatible registry (schemaRegistryUrl): the task reaches it over HTTPS (443)
  or the URL's own port, which the security group then opens.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

from consumer.schemas.glue_access import GET_REGISTRY, GET_SCHEMA_VERSION, GlueRegistryArn

_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


def glue_statements(registry: GlueRegistryArn) -> list[dict[str, Any]]:
    """The task role's statements for reading the one registry."""
    return [
        {
            "Sid": "CheckSchemaRegistry",
            "Effect": "Allow",
            "Action": GET_REGISTRY,
            "Resource": registry.arn,
        },
        {
            "Sid": "ReadSchemaVersions",
            "Effect": "Allow",
            "Action": GET_SCHEMA_VERSION,
            "Resource": [registry.arn, registry.schemas_arn_pattern],
        },
    ]


def registry_port(url: str) -> int:
    """The TCP port the bridge reaches a registry URL on (the settings checked its scheme);
    ValueError if the URL names a port no connection can use."""
    parts = urlsplit(url)
    port = parts.port  # ValueError when not a number or above 65535
    if port == 0:
        raise ValueError("Port 0 is not one a connection can use")
    return port or _DEFAULT_PORTS[parts.scheme]
