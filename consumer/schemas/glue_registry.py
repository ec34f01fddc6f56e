"""An AWS Glue schema registry (GLUE_SCHEMA_REGISTRY_ARN), read with the task's AWS credentials.

A record in Glue's wire format names its writer schema by a schema version UUID; Glue's
GetSchemaVersion gives that version's data format and definition. One long-lived aioboto3
client serves every lookup, in the registry's own region (its ARN names it), with botocore's
retries off: the bridge retries a transient failure itself, with its backoff.

Only versions of the configured registry are decoded, as Lambda's Kafka trigger decodes with
the one registry its ARN names; the task role may read that registry's schemas only.

How an answer is classified decides what becomes of the records waiting on it:
- the version does not exist, or belongs to another registry: `SchemaNotFound`, permanent;
  the records that name it are dead-lettered with the reason;
- a data format the bridge does not decode: `UnusableSchema`, permanent;
- access denied, throttling, 5xx, timeouts, refused connections: `RegistryUnavailable`,
  transient; the records wait and the lookup is retried. A denial is transient because it is
  fixed by a grant: a role that lost its policy, or a version of another registry (granting
  read on that registry then turns the denial into the permanent "another registry");
- at start-up, `check()` reads the registry itself, so a wrong ARN, region or IAM policy is
  one line naming GLUE_SCHEMA_REGISTRY_ARN and the missing action before anything is consumed.
"""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from typing import Any, Final

import aioboto3
import aiohttp
from aiobotocore.config import AioConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from consumer.errors import SchemaRegistryStartupError, error_reason
from consumer.schemas.glue_access import GET_REGISTRY, GET_SCHEMA_VERSION, GlueRegistryArn
from consumer.schemas.model import (
    RegisteredSchema,
    RegistryUnavailable,
    SchemaFormat,
    SchemaNotFound,
    UnusableSchema,
)
from consumer.settings.model import BridgeSettings

_TIMEOUT_S: Final = 10.0  # connect and read, per request: a registry slower than this is down
_MAX_MESSAGE_CHARS: Final = 300
_DENIED_CODES: Final = frozenset({"AccessDeniedException", "AccessDenied"})
_NOT_FOUND_CODE: Final = "EntityNotFoundException"
# Glue's own answers that say nothing about the request: worth asking again.
_TRANSIENT_CODES: Final = frozenset(
    {"ThrottlingException", "InternalServiceException", "ServiceUnavailableException"}
)


class GlueSchemaRegistry:
    """`fetch(schema_version_id)` gives a version's schema; open it with `async with`."""

    def __init__(
        self,
        registry_arn: str,
        *,
        endpoint_url: str | None = None,
        session: aioboto3.Session | None = None,
    ) -> None:
        self._registry = GlueRegistryArn.parse(registry_arn)
        self.registry_arn = registry_arn
        self.region = self._registry.region  # Glue answers for a registry in its region only
        self.description = registry_arn  # for the log
        self._endpoint_url = endpoint_url
        self._session = session or aioboto3.Session()
        self._exit_stack = AsyncExitStack()
        self._client: Any = None

    @classmethod
    def from_settings(
        cls, settings: BridgeSettings, session: aioboto3.Session | None = None
    ) -> GlueSchemaRegistry:
        assert settings.glue_schema_registry_arn is not None
        return cls(
            settings.glue_schema_registry_arn,
            endpoint_url=settings.glue_endpoint_url,
            session=session,
        )

    async def __aenter__(self) -> GlueSchemaRegistry:
        config = AioConfig(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=_TIMEOUT_S,
            read_timeout=_TIMEOUT_S,
        )
        self._client = await self._exit_stack.enter_async_context(
            self._session.client(
                "glue", region_name=self.region, endpoint_url=self._endpoint_url, config=config
            )
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._client = None
        await self._exit_stack.aclose()

    async def check(self) -> None:
        """Start-up: the registry exists where its ARN says, and this identity may read it."""
        arn = self.registry_arn
        try:
            answer = await self._glue().get_registry(RegistryId={"RegistryArn": arn})
        except ClientError as error:
            code, message = _code(error), _message(error)
            if code == _NOT_FOUND_CODE:
                raise SchemaRegistryStartupError(
                    f"GLUE_SCHEMA_REGISTRY_ARN: Glue has no registry {arn} ({message}). Check "
                    "its name, region and account."
                ) from None
            if _denied(error):
                raise SchemaRegistryStartupError(
                    f"GLUE_SCHEMA_REGISTRY_ARN: this identity may not call {GET_REGISTRY} on "
                    f"{arn} ({message}). Grant the task role {GET_REGISTRY} on the registry, "
                    f"and {GET_SCHEMA_VERSION} on it and {self._registry.schemas_arn_pattern}."
                ) from None
            raise SchemaRegistryStartupError(
                f"GLUE_SCHEMA_REGISTRY_ARN: reading registry {arn} failed: {code} {message}"
            ) from None
        except NoCredentialsError:
            raise SchemaRegistryStartupError(
                "no AWS credentials were found to read the Glue schema registry: on ECS the task "
                "role provides them; elsewhere set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY."
            ) from None
        except (TimeoutError, BotoCoreError, aiohttp.ClientError, OSError) as error:
            where = self._endpoint_url or f"Glue in {self.region}"
            raise SchemaRegistryStartupError(
                f"GLUE_SCHEMA_REGISTRY_ARN: could not reach {where} to read registry {arn}: "
                f"{error_reason(error)}. Check GLUE_ENDPOINT_URL and the network."
            ) from None
        if answer.get("Status") == "DELETING":
            raise SchemaRegistryStartupError(
                f"GLUE_SCHEMA_REGISTRY_ARN: registry {arn} is being deleted."
            )

    async def fetch(self, schema_version_id: uuid.UUID) -> RegisteredSchema:
        """The schema version a record names, if it is one of this registry's."""
        try:
            answer = await self._glue().get_schema_version(SchemaVersionId=str(schema_version_id))
        except ClientError as error:
            raise _classified(error, schema_version_id) from None
        except (TimeoutError, BotoCoreError, aiohttp.ClientError, OSError) as error:
            raise RegistryUnavailable(f"Glue did not answer: {error_reason(error)}") from None
        schema_arn = str(answer.get("SchemaArn", ""))
        if not self._registry.holds(schema_arn):
            raise SchemaNotFound(
                f"Glue schema version {schema_version_id} is a version of {schema_arn}, not of "
                "a schema in GLUE_SCHEMA_REGISTRY_ARN's registry"
            )
        definition = answer.get("SchemaDefinition")
        if not isinstance(definition, str):
            raise UnusableSchema(f"Glue gave no definition of schema version {schema_version_id}")
        return RegisteredSchema(_format(answer.get("DataFormat"), schema_version_id), definition)

    def _glue(self) -> Any:
        assert self._client is not None, "open the registry with `async with` first"
        return self._client


def _classified(error: ClientError, schema_version_id: uuid.UUID) -> Exception:
    code, message = _code(error), _message(error)
    if code == _NOT_FOUND_CODE:
        return SchemaNotFound(f"Glue has no schema version {schema_version_id}")
    if _denied(error):
        return RegistryUnavailable(
            f"{GET_SCHEMA_VERSION} on schema version {schema_version_id} was denied ({message}): "
            "the task role may read GLUE_SCHEMA_REGISTRY_ARN's schemas only"
        )
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _TRANSIENT_CODES or status == 429 or status >= 500:
        return RegistryUnavailable(f"Glue answered {code or status}: {message}")
    # Any other refusal (InvalidInputException, …) is about the request, which never changes.
    return UnusableSchema(
        f"Glue refused schema version {schema_version_id}: {code or status} {message}"
    )


def _format(data_format: object, schema_version_id: uuid.UUID) -> SchemaFormat:
    try:
        return SchemaFormat(str(data_format))
    except ValueError:
        raise UnusableSchema(
            f"Glue schema version {schema_version_id} is in data format {str(data_format)[:40]!r}, "
            "which the bridge does not decode"
        ) from None


def _denied(error: ClientError) -> bool:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return _code(error) in _DENIED_CODES or status == 403


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: ClientError) -> str:
    """The error's message on one line (some endpoints answer a denial as an XML document)."""
    text = str(error.response.get("Error", {}).get("Message", ""))
    return " ".join(text.split())[:_MAX_MESSAGE_CHARS]
