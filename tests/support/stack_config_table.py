"""The README's table of stack settings, generated from Pulumi.yaml's config block.

`python -m tests.support.stack_config_table` rewrites it in README.md; a test checks it holds
exactly this between its `stack-config:start` and `stack-config:end` markers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
START, END = "<!-- stack-config:start -->", "<!-- stack-config:end -->"


def _default(declaration: dict[str, Any]) -> str:
    if "default" not in declaration:
        return "**required**" + (", secret" if declaration.get("secret") else "")
    value = declaration["default"]
    if value in ("", []):
        return "—"
    return f"`{json.dumps(value) if isinstance(value, bool | list) else value}`"


def stack_config_table() -> str:
    config = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"]
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for key, declaration in config.items():
        meaning = " ".join(str(declaration["description"]).split()).replace("|", "\\|")
        rows.append(f"| `{key}` | {_default(declaration)} | {meaning} |")
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
