"""`Pulumi.yaml`'s `config:` block, generated from the settings declarations: the bridge's
(consumer/settings/) and the deployment's (infra/settings.py).

`python -m tests.support.project_config` rewrites the block (everything from the line
`config:` on); a test checks that the file holds exactly this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from consumer.settings.declarations import Declaration
from infra.settings import BRIDGE_KEYS, INFRA_KEYS

PROJECT_FILE = Path(__file__).resolve().parents[2] / "Pulumi.yaml"
HEADER = """\
# Every stack setting (`pulumi config set <key> <value>`), generated from the declarations in
# consumer/settings/ (the bridge's settings) and infra/settings.py (the deployment's): edit
# those, then run `make generated`. A key without a default must be set in each stack; an
# empty string means "not set". Optional secrets (oauthClientSecret, the client key, …) are
# not declared here, as Pulumi cannot declare an optional secret; docs/deploying.md lists them.
config:
"""


def description(declaration: Declaration) -> str:
    """The stack's doc of a key: its declaration's, and what a stack needs to know besides."""
    text = declaration.stack_doc
    if declaration.optional and declaration.stack_type == "integer":
        text += " 0: not set."
    if declaration.secret:
        text += (
            f" A secret: `pulumi config set --secret {declaration.stack_key}` keeps it "
            "encrypted in the stack; the program puts it in an SSM SecureString that the task "
            "definition's `secrets` give the container."
        )
    return text


def key_declaration(declaration: Declaration) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": declaration.stack_type}
    if declaration.stack_type == "array":
        entry["items"] = {"type": "string"}
    entry["description"] = description(declaration)
    if declaration.secret:
        entry["secret"] = True
    if declaration.stack_default is not None:  # None: every stack must set the key
        entry["default"] = declaration.stack_default
    return entry


def declarable(declaration: Declaration) -> bool:
    """Pulumi requires every declared key without a default, and refuses a default for a
    secret: an optional secret can only be left undeclared (a stack may still set it)."""
    return not (declaration.secret and declaration.stack_default is not None)


def _block(title: str, declarations: list[Declaration]) -> str:
    entries = {str(d.stack_key): key_declaration(d) for d in declarations if declarable(d)}
    body = yaml.safe_dump(entries, sort_keys=False, allow_unicode=True, width=88)
    indented = "".join(f"  {line}\n" for line in body.splitlines())
    return f"  # --- {title} ---\n{indented}"


def config_block() -> str:
    return (
        HEADER
        + _block("The bridge: consumer/settings/", BRIDGE_KEYS)
        + _block("The deployment: infra/settings.py", INFRA_KEYS)
    )


def config_block_in_file() -> str:
    text = PROJECT_FILE.read_text()
    return text[_start(text) :]


def _start(text: str) -> int:
    """Where the generated block starts: its header comment, or the end of the file."""
    header_start = text.find(HEADER.splitlines()[0])
    return header_start if header_start >= 0 else len(text)


if __name__ == "__main__":
    text = PROJECT_FILE.read_text()
    PROJECT_FILE.write_text(text[: _start(text)] + config_block())
