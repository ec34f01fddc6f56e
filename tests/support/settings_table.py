"""The README's settings table, generated from the settings class.

`python -m tests.support.settings_table` prints it; a test checks the README holds exactly
this between its `settings:start` and `settings:end` markers.
"""

from __future__ import annotations

from enum import Enum

from pydantic_core import PydanticUndefined

from consumer.settings import BridgeSettings, env_name


def _default(field_name: str) -> str:
    field = BridgeSettings.model_fields[field_name]
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if value is None or value == {} or value is PydanticUndefined:
        return "—"
    if isinstance(value, Enum):
        value = value.value
    return f"`{value}`"


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in BridgeSettings.model_fields.items():
        rows.append(f"| `{env_name(name)}` | {_default(name)} | {field.description} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
