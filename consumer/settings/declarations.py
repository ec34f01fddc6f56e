"""Settings declared once. A field of a settings model, written with `setting(...)`, holds all
there is to know about one setting; `declarations(Model)` reads it back as a `Declaration`.

What one declaration carries, and who reads it:
- type, default, range or allowed values, doc: pydantic, which validates with them;
- the environment variable: the field's name upper-cased (the container reads it);
- the stack key and its default on a stack: the Pulumi program
  reads the key, passes the value to the container (a secret through SSM and the task
  definition's `secrets`), and generates `Pulumi.yaml`'s declaration of it;
- secret: the field's type is `SecretStr`.

Cross-field rules raise `SettingRuleError` naming the setting to fix, and `problems()` turns
a pydantic `ValidationError` into `SettingProblem`s, so each side can word them in its own
names (the container in variables, the Pulumi program in stack keys and commands).

Only pydantic and the standard library here: the Pulumi program imports this module too.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

StackType = Literal["string", "integer", "boolean", "array"]
_STACK: Final = "stack"  # the key of a field's stack side in its json_schema_extra
# A stack default of "the same as the setting's own default" (converted to the stack's type).
_SAME: Final = "__same_as_the_setting__"


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonBlank = Annotated[str, AfterValidator(_not_blank)]


def setting(
    default: Any = PydanticUndefined,
    *,
    doc: str,
    stack: str | None = None,
    stack_default: Any = _SAME,
    stack_doc: str | None = None,
    stack_type: StackType | None = None,
    example: str | None = None,
    **constraints: Any,
) -> Any:
    """A pydantic field with its stack side. `stack` is the Pulumi key (None: the setting is not
    set from a stack); `stack_default` where a deployment's sensible default differs from the
    setting's; `stack_doc` where the stack's meaning differs; `example` for the
    `pulumi config set` fix. A setting without a default must be set on every stack too."""
    extra: dict[str, Any] = {
        _STACK: {
            "key": stack,
            "default": stack_default,
            "doc": stack_doc,
            "type": stack_type,
            "example": example,
        }
    }
    field: Any = Field(default, description=doc, json_schema_extra=extra, **constraints)
    return field


@dataclass(frozen=True)
class Declaration:
    """One setting of a model, as every reader of it sees it."""

    field: str
    doc: str
    value_type: Any  # the field's type without `None`
    optional: bool  # None is a value (and, unless `required`, the default)
    required: bool  # no default: the setting must be given
    default: Any  # the model's default (None when required)
    secret: bool
    choices: tuple[str, ...] | None
    stack_key: str | None
    stack_type: StackType
    stack_default: Any  # on a stack; None: the stack must set the key
    stack_doc: str
    example: str | None

    @property
    def env(self) -> str:
        return self.field.upper()

    @property
    def unset_value(self) -> Any:
        """The stack value meaning "not set", for an optional setting: "" or 0 (never valid)."""
        if not self.optional:
            return None
        return 0 if self.stack_type == "integer" else ""

    def is_unset(self, stack_value: Any) -> bool:
        return stack_value is None or (self.optional and stack_value == self.unset_value)

    @property
    def fix_example(self) -> str:
        """A value to show in `pulumi config set <key> <value>`: the declared example, else the
        stack default (an optional number's is 0, which unsets it)."""
        if self.example is not None:
            return self.example
        value = self.stack_default
        if value is None or value == "":
            return "<value>"
        return to_text(value)


def to_text(value: Any) -> str:
    """A stack value as an environment variable (or a command line) spells it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def declarations(model: type[BaseModel]) -> list[Declaration]:
    return [_declaration(name, info) for name, info in model.model_fields.items()]


def stack_declarations(model: type[BaseModel]) -> list[Declaration]:
    """The settings of `model` a stack sets, in declaration order."""
    return [declaration for declaration in declarations(model) if declaration.stack_key]


def _declaration(name: str, info: FieldInfo) -> Declaration:
    side = _stack_side(info)
    value_type, optional = _without_none(info.annotation)
    required = info.is_required()
    default = None if required else info.get_default(call_default_factory=True)
    declaration = Declaration(
        field=name,
        doc=info.description or "",
        value_type=value_type,
        optional=optional,
        required=required,
        default=default,
        secret=value_type is SecretStr,
        choices=_choices(value_type),
        stack_key=side["key"],
        stack_type=side["type"] or _stack_type_of(value_type),
        stack_default=None,
        stack_doc=side["doc"] or info.description or "",
        example=side["example"],
    )
    if required:
        return declaration  # the stack must set it: no default there
    stack_default = side["default"]
    if stack_default == _SAME:
        stack_default = _as_stack_value(default, declaration)
    return replace(declaration, stack_default=stack_default)


def _stack_side(info: FieldInfo) -> dict[str, Any]:
    extra = info.json_schema_extra
    side = extra.get(_STACK) if isinstance(extra, dict) else None
    if not isinstance(side, dict):
        # A plain pydantic field: no stack side.
        return {
            "key": None,
            "default": _SAME,
            "doc": None,
            "type": None,
            "example": None,
        }
    return side


def _without_none(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        if len(members) == 1:
            return members[0], len(members) < len(typing.get_args(annotation))
    return annotation, False


def _choices(value_type: Any) -> tuple[str, ...] | None:
    if isinstance(value_type, type) and issubclass(value_type, Enum):
        return tuple(str(member.value) for member in value_type)
    return None


def _stack_type_of(value_type: Any) -> StackType:
    if value_type is bool:
        return "boolean"
    if value_type in (int, float):
        return "integer"  # Pulumi's typed config has no fractions: whole units on a stack
    if typing.get_origin(value_type) is list:
        return "array"
    return "string"  # text, choices, paths, secrets, and JSON objects as JSON text


def _as_stack_value(default: Any, declaration: Declaration) -> Any:
    if default is None:
        return declaration.unset_value
    if isinstance(default, Enum):
        return default.value
    if isinstance(default, float) and default.is_integer():
        return int(default)
    if isinstance(default, dict):
        return json.dumps(default)
    if isinstance(default, Path):
        return str(default)
    if isinstance(default, list) and declaration.stack_type == "string":
        return ",".join(default)
    return default


class SettingRuleError(ValueError):
    """A rule across settings is broken; `field` is the setting the message tells to change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SettingProblem:
    """One thing wrong with the settings, in the model's own names.

    kind: `missing` (a required setting is absent), `invalid` (the value itself is wrong:
    `message` says why, `value` is what was given) or `rule` (a rule across settings:
    `message` is a sentence naming the settings)."""

    field: str
    kind: Literal["missing", "invalid", "rule"]
    message: str
    value: Any = None


def problems(invalid: ValidationError) -> Iterator[SettingProblem]:
    for error in invalid.errors(include_url=False):
        cause = error.get("ctx", {}).get("error")
        field = str(error["loc"][0]) if error["loc"] else ""
        if isinstance(cause, SettingRuleError):
            yield SettingProblem(cause.field, "rule", str(cause))
        elif error["type"] == "missing":
            yield SettingProblem(field, "missing", "is required")
        else:
            message = error["msg"].removeprefix("Value error, ")
            yield SettingProblem(field, "invalid", message, error.get("input"))
