"""Bounds on what a registry may hand the bridge: a schema is hostile input too.

A schema nested a thousand levels deep would overflow the parsers' recursion (Python's, or
fastavro's compiled reader, which recurses on the C stack), and a huge one would block the
event loop while it compiles. A schema outside these bounds is unusable: its records are
dead-lettered with the reason, and the partition goes on.
"""

from __future__ import annotations

import json
from typing import Any

from consumer.schemas.model import RegisteredSchema, SchemaFormat, UnusableSchema

# A schema's text, and each reference's: real schemas are kilobytes.
MAX_SCHEMA_CHARS = 1024 * 1024
# Levels of nesting in a schema's text: JSON objects and arrays (Avro, JSON Schema), braces
# (Protobuf). An Avro record inside a record costs three (the record, its fields, the field),
# so this allows records nested about 30 deep; fastavro's compiled reader crashes at ~5,000.
MAX_SCHEMA_DEPTH = 100


def check_schema_bounds(schema: RegisteredSchema) -> None:
    """UnusableSchema if the schema, or one of its references, is too large or too deep."""
    texts = {"the schema": schema.text}
    texts.update({f"the reference {name!r}": text for name, text in schema.references.items()})
    for what, text in texts.items():
        if len(text) > MAX_SCHEMA_CHARS:
            raise UnusableSchema(
                f"{what} is {len(text):,} characters long, over the bound of {MAX_SCHEMA_CHARS:,}"
            )
        depth = _brace_depth(text) if schema.format is SchemaFormat.PROTOBUF else _json_depth(text)
        if depth > MAX_SCHEMA_DEPTH:
            raise UnusableSchema(
                f"{what} nests {depth} levels deep, over the bound of {MAX_SCHEMA_DEPTH}"
            )


def _json_depth(text: str) -> int:
    """The deepest nesting of objects and arrays (0 for text that is not JSON: the format's
    own parser says why)."""
    try:
        document = json.loads(text)
    except RecursionError:
        return MAX_SCHEMA_DEPTH + 1  # deeper than the parser follows: far over the bound
    except ValueError:
        return 0
    deepest = 0
    pending: list[tuple[Any, int]] = [(document, 1)]  # a stack, not recursion: any depth
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def _brace_depth(text: str) -> int:
    """The deepest nesting of braces; a brace inside a string literal counts too, which only
    overstates the depth (there is no way to understate it)."""
    depth = deepest = 0
    for character in text:
        if character == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif character == "}":
            depth -= 1
    return deepest
