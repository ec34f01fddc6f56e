"""The settings table of docs/settings.md, generated from the settings declarations.

`python -m tests.support.settings_table` rewrites it in that page (between the
`settings:start` and `settings:end` markers); a test checks the page holds exactly this.
"""

from __future__ import annotations

import re
from pathlib import Path

from consumer.settings.declarations import Declaration, to_text
from consumer.settings.model import DECLARATIONS


def _default(declaration: Declaration) -> str:
    if declaration.required:
        return "**required**"
    value = declaration.default
    if value is None or value == {}:
        return "—"
    return f"`{to_text(value)}`"  # as the environment spells it


def _stack_key(declaration: Declaration) -> str:
    if declaration.stack_key is None:
        return "—"
    return f"`{declaration.stack_key}`" + (" (secret)" if declaration.secret else "")


def settings_table() -> str:
    rows = ["| variable | stack key | default | meaning |", "| --- | --- | --- | --- |"]
    for d in DECLARATIONS:
        rows.append(f"| `{d.env}` | {_stack_key(d)} | {_default(d)} | {d.doc} |")
    return "\n".join(rows) + "\n"


PAGE = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
BLOCK = re.compile(r"(<!-- settings:start -->\n)(.*?)(<!-- settings:end -->)", re.DOTALL)


def table_in_page() -> str | None:
    found = BLOCK.search(PAGE.read_text())
    return None if found is None else found.group(2)


if __name__ == "__main__":
    PAGE.write_text(
        BLOCK.sub(lambda m: m.group(1) + settings_table() + m.group(3), PAGE.read_text())
    )
