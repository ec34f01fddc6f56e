"""Declared settings read from a stack, and their problems worded for the stack's operator.

Generic over the declarations (consumer/settings/declarations.py): a key is read with the getter of
its stack type — so a value of the wrong type fails with Pulumi's own ConfigTypeError, and a missing
required key with Pulumi's ConfigMissingError — and falls back to its stack default. A model's
findings (`SettingProblem`s) become one line each: `kafka-to-lambda:<key> <what is wrong>; fix it
with: pulumi config set <key> <example>`, with the bridge's variable names inside a message replaced
by their stack keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import pulumi

from consumer.settings.declarations import Declaration, SettingProblem

PROJECT: Final = "kafka-to-lambda"
# What stands in for a secret while the settings are validated: the program never reads a
# secret's plaintext, so it checks only that the secret is set; the container checks what it
# holds when it starts. Shaped as PEM, so it stands in for certificates and keys too.
SECRET_PLACEHOLDER: Final = "-----BEGIN STACK SECRET-----\nset\n-----END STACK SECRET-----\n"


class ConfigurationError(pulumi.RunError):
    """A stack setting is missing or wrong; the message names the key and the fix."""


class StackConfig:
    """Typed reads of the declared keys of one config namespace."""

    def __init__(self, config: pulumi.Config) -> None:
        self._config = config

    def value(self, declaration: Declaration) -> Any:
        """The stack's value of a plain setting, its stack default if unset; None: not set."""
        assert declaration.stack_key, declaration.field
        assert not declaration.secret, declaration.field
        key = declaration.stack_key
        required = declaration.stack_default is None
        getter = _GETTERS[declaration.stack_type][required]
        value = getter(self._config, key)
        if value is None:
            value = declaration.stack_default
        return None if declaration.is_unset(value) else value

    def secret(self, declaration: Declaration) -> pulumi.Output[str] | None:
        """A secret setting's value, as a Pulumi secret; None: not set. A value stored in
        plain text (set without --secret) is refused: it sits readable in a file users commit."""
        assert declaration.stack_key, declaration.field
        assert declaration.secret, declaration.field
        full_key = f"{self._config.name}:{declaration.stack_key}"
        stored = pulumi.runtime.get_config(full_key)
        if stored is not None and not pulumi.runtime.is_config_secret(full_key):
            raise ConfigurationError(
                f"{full_key} is stored in plain text in the stack file, where anyone who reads "
                "it (or the repository it is committed to) can; store it encrypted, then "
                f"rotate it: pulumi config rm {declaration.stack_key} && "
                f"{fix_command(declaration)}"
            )
        if declaration.stack_default is None:  # the stack must set it
            return self._config.require_secret(declaration.stack_key)
        return self._config.get_secret(declaration.stack_key)


_Getter = Callable[[pulumi.Config, str], Any]
# stack type → (getter when optional, getter when required)
_GETTERS: Final[Mapping[str, Mapping[bool, _Getter]]] = {
    "string": {False: pulumi.Config.get, True: pulumi.Config.require},
    "integer": {False: pulumi.Config.get_int, True: pulumi.Config.require_int},
    "boolean": {False: pulumi.Config.get_bool, True: pulumi.Config.require_bool},
    "array": {False: pulumi.Config.get_object, True: pulumi.Config.require_object},
}


def configuration_error(
    found: Iterable[SettingProblem],
    declarations: Iterable[Declaration],
    given: Mapping[str, Any],
    *,
    worded_in_variables: bool,
) -> ConfigurationError:
    """One line per problem, in stack keys. `given`: field → the value the stack gave;
    `worded_in_variables`: the messages name settings by their environment variables (the
    bridge's do), which become stack keys here."""
    by_field = {declaration.field: declaration for declaration in declarations}
    keys = {d.env: d.stack_key for d in by_field.values() if d.stack_key}
    variables = re.compile(
        r"(?<![A-Z0-9_])(" + "|".join(sorted(map(re.escape, keys), key=len, reverse=True)) + ")"
        r"(?![A-Z0-9_])"
    )

    def in_keys(message: str) -> str:
        if not worded_in_variables:
            return message
        return variables.sub(lambda match: keys[match.group(1)], message)

    lines = []
    for problem in found:
        declaration = by_field[problem.field]
        key = declaration.stack_key or declaration.env
        if problem.kind == "missing":
            detail = f" is required: {declaration.stack_doc}"
        elif problem.kind == "invalid":
            shown = "" if declaration.secret else f" is {given.get(problem.field)!r}"
            detail = f"{shown}: {in_keys(problem.message)}"
        else:
            sentence = in_keys(problem.message)
            names_key_first = re.match(re.escape(key) + "[ =]", sentence) is not None
            detail = sentence[len(key) :] if names_key_first else f": {sentence}"
        lines.append(f"{PROJECT}:{key}{detail}; fix it with: {fix_command(declaration)}")
    return ConfigurationError("\n".join(lines))


def fix_command(declaration: Declaration) -> str:
    key = declaration.stack_key or declaration.env
    if declaration.secret:  # the CLI prompts for the value, which stays out of shell history
        return f"pulumi config set --secret {key}"
    if declaration.stack_type == "array":
        return f"pulumi config set --path '{key}[0]' {declaration.fix_example}"
    return f"pulumi config set {key} {declaration.fix_example}"
