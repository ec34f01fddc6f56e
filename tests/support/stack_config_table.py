"""The table of stack settings in docs/deploying.md, generated from the declarations as
`Pulumi.yaml`'s config block is (and listing the optional secrets, which that block cannot
declare).

`python -m tests.support.stack_config_table` rewrites it in that page; a test checks the page
holds exactly this between its `stack-config:start` and `stack-config:end` markers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from infra.settings import BRIDGE_KEYS, INFRA_KEYS
from tests.support.project_config import declarable, key_declaration

PAGE = Path(__file__).resolve().parents[2] / "docs" / "deploying.md"
START, END = "<!-- stack-config:start -->", "<!-- stack-config:end -->"


def _default(declaration: dict[str, Any], in_project_file: bool) -> str:
    if not in_project_file:
        return "—, secret"
    if "default" not in declaration:
        return "**required**" + (", secret" if declaration.get("secret") else "")
    value = declaration["default"]
    if value in ("", []):
        return "—"
    return f"`{json.dumps(value) if isinstance(value, bool | list) else value}`"


def stack_config_table() -> str:
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for d in [*BRIDGE_KEYS, *INFRA_KEYS]:
        entry = key_declaration(d)
        meaning = " ".join(str(entry["description"]).split()).replace("|", "\\|")
        rows.append(f"| `{d.stack_key}` | {_default(entry, declarable(d))} | {meaning} |")
    return "\n".join(rows) + "\n"


BLOCK = re.compile(re.escape(START) + r"\n(.*?)" + re.escape(END), re.DOTALL)


def table_in_page() -> str | None:
    match = BLOCK.search(PAGE.read_text())
    return match.group(1) if match else None


if __name__ == "__main__":  # rewrites the table in docs/deploying.md
    replacement = f"{START}\n{stack_config_table()}{END}"
    PAGE.write_text(BLOCK.sub(lambda _: replacement, PAGE.read_text()))
