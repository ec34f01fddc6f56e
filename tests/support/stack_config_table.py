"""The README's table of stack settings, generated from the declarations as `Pulumi.yaml`'s
config block is (and listing the optional secrets, which that block cannot declare).

`python -m tests.support.stack_config_table` rewrites it in README.md; a test checks it holds
exactly this between its `stack-config:start` and `stack-config:end` markers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from infra.settings import BRIDGE_KEYS, INFRA_KEYS
from tests.support.project_config import declarable, key_declaration

REPO = Path(__file__).resolve().parents[2]
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


def table_in_readme() -> str | None:
    readme = (REPO / "README.md").read_text()
    match = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), readme, re.DOTALL)
    return match.group(1) if match else None


if __name__ == "__main__":  # rewrites the table in README.md
    readme = (REPO / "README.md").read_text()
    block = re.compile(re.escape(START) + r"\n(.*?)" + re.escape(END), re.DOTALL)
    replacement = f"{START}\n{stack_config_table()}{END}"
    (REPO / "README.md").write_text(block.sub(lambda _: replacement, readme))
