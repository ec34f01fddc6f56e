"""What `--help` says of the settings: every environment variable the bridge reads, from the
same declarations as the settings model, docs/settings.md's table and the Pulumi stack keys."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping

from consumer.settings.declarations import to_text
from consumer.settings.model import DECLARATIONS

_WIDTH = 79
_MARKUP = re.compile(r"`([^`]*)`")  # the docs' Markdown code spans, as plain text


def settings_help(required_when: Mapping[str, str] | None = None) -> str:
    """One entry per variable: its name, whether it is required or its default, its meaning.
    `required_when`: variables a command needs only in some cases, e.g. "with a kafka:// DLQ"."""
    entries = ["settings (environment variables):"]
    for declaration in DECLARATIONS:
        if declaration.required and required_when and declaration.env in required_when:
            given = f"required {required_when[declaration.env]}"
        elif declaration.required:
            given = "required"
        elif declaration.default is None or declaration.default == {}:
            given = "optional"
        else:
            given = f"default {to_text(declaration.default)}"
        if declaration.secret:
            given += ", secret"
        entries.append(f"  {declaration.env} ({given})")
        entries.extend(
            textwrap.wrap(
                _MARKUP.sub(r"\1", declaration.doc),
                _WIDTH,
                initial_indent="      ",
                subsequent_indent="      ",
            )
        )
    return "\n".join(entries)
