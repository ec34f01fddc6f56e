"""The README's settings table, generated from the settings class.

`python -m tests.support.settings_table` rewrites it in README.md (between the
`settings:start` and `settings:end` markers); a test checks the README holds exactly this.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

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
    if isinstance(value, bool):
        value = str(value).lower()  # as the environment spells it
    return f"`{value}`"


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in BridgeSettings.model_fields.items():
        rows.append(f"| `{env_name(name)}` | {_default(name)} | {field.description} |")
    return "\n".join(rows) + "\n"


README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"(<!-- settings:start -->\n)(.*?)(<!-- settings:end -->)", re.DOTALL)


def table_in_readme() -> str | None:
    found = BLOCK.search(README.read_text())
    return None if found is None else found.group(2)


if __name__ == "__main__":
    README.write_text(
        BLOCK.sub(lambda m: m.group(1) + settings_table() + m.group(3), README.read_text())
    )
