"""Stack files (`Pulumi.<stack>.yaml`) read the way Pulumi reads them, and rewritten the way
its CLI rewrites them.

Pulumi keeps a top-level config value as text whatever YAML made of it: `pulumi config set`
writes every value it touches as a string (`desiredCount: "20"`), and the program's typed
getters (`Config.get_int`…) parse the text. So a value is typed here by the project's own
declaration in `Pulumi.yaml`, never by how YAML happened to read it. A `secure:` entry is a
secret the CLI encrypted with the stack's key: the tests cannot decrypt it, and only its key
is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PROJECT_FILE = REPO / "Pulumi.yaml"
# What `pulumi config set --secret` writes: a passphrase-encrypted value and the stack's salt.
CLI_SALT = "v1:5WhW7o3sKvY=:v1:tJ0R2yXh8ivkEyw5:0Lq2F3cJ0fZ7y9N2pM0YQXuH3aWkVQ=="
CLI_CIPHERTEXT = "v1:Zt5lX1n0yA2cLr6T:0wSbFq7gxlY3yJh9oP1dC8Rk2nNQ0S5bXz4="


@dataclass(frozen=True)
class StackFile:
    region: str
    values: dict[str, Any]  # project key → its value, typed as Pulumi.yaml declares
    secure: frozenset[str]  # project keys holding an encrypted secret


def _project() -> dict[str, Any]:
    project: dict[str, Any] = yaml.safe_load(PROJECT_FILE.read_text())
    return project


def stack_path(stack: str) -> Path:
    return REPO / f"Pulumi.{stack}.yaml"


def read_stack_file(stack: str, text: str | None = None) -> StackFile:
    """`Pulumi.<stack>.yaml` (or `text`, a version of it) as the program will see it."""
    project = _project()
    declarations: dict[str, dict[str, Any]] = project["config"]
    document = yaml.safe_load(stack_path(stack).read_text() if text is None else text)
    config: dict[str, Any] = document.get("config") or {}
    prefix = f"{project['name']}:"
    values, secure = {}, set()
    for name, value in config.items():
        if not name.startswith(prefix):
            continue
        key = name[len(prefix) :]
        if isinstance(value, dict) and set(value) == {"secure"}:
            secure.add(key)
        elif key in declarations:
            values[key] = typed(declarations[key]["type"], value)
        else:
            values[key] = value  # undeclared: a test of the files says so
    return StackFile(str(config["aws:region"]), values, frozenset(secure))


def typed(kind: str, value: Any) -> Any:
    """A stack value of a declared `type`, parsed from text as Pulumi's typed getters do."""
    if not isinstance(value, str):
        return value
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        return {"true": True, "false": False}[value]
    if kind == "array":
        return json.loads(value)
    return value


def rewritten_by_the_cli(text: str, secrets: tuple[str, ...] = ("kafkaPassword",)) -> str:
    """The file as `pulumi config set` leaves it: the salt added, each of `secrets` set with
    `--secret`, every other top-level value written as a string, comments gone."""
    document = yaml.safe_load(text)
    project = _project()["name"]
    config = {
        name: value if isinstance(value, dict | list) else _as_cli_text(value)
        for name, value in document["config"].items()
    }
    for key in secrets:
        config[f"{project}:{key}"] = {"secure": CLI_CIPHERTEXT}
    rewritten = {"encryptionsalt": CLI_SALT, "config": dict(sorted(config.items()))}
    return yaml.safe_dump(rewritten, sort_keys=False, default_style=None)


def _as_cli_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
