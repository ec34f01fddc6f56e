"""Which Avro schemas let a few bytes claim billions of items: arrays and maps whose items can
take no bytes at all (null, a record without fields or of nulls only, a fixed of size 0).

Avro writes an array as blocks, each a count and then that many items; an item that takes
bytes bounds the count by the body's length (the reader runs out of bytes), but an item that
takes none does not, so 15 bytes can claim 2^62 items and a reader loops until memory runs
out. A schema with such items is read by avro.py's bounded reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The fewest bytes a value of each primitive type takes.
_PRIMITIVE_MIN_BYTES = {
    "null": 0,
    "boolean": 1,
    "int": 1,
    "long": 1,
    "float": 4,
    "double": 8,
    "bytes": 1,  # its length, even when 0
    "string": 1,
}


def has_items_of_no_bytes(parsed_schema: Any, named_types: Mapping[str, Any]) -> bool:
    """True if an array or a map of the schema has items that may take no bytes."""
    sizes = _MinBytes(named_types)
    pending = [parsed_schema]  # a stack, not recursion (the schema's depth is bounded anyway)
    visited_names: set[str] = set()
    while pending:
        schema = pending.pop()
        if isinstance(schema, str):
            if schema not in _PRIMITIVE_MIN_BYTES and schema not in visited_names:
                visited_names.add(schema)
                pending.append(named_types[schema])
            continue
        if isinstance(schema, list):
            pending.extend(schema)
            continue
        kind = schema["type"]
        if kind == "array":
            if sizes.of(schema["items"]) == 0:
                return True
            pending.append(schema["items"])
        elif kind == "map":
            if sizes.of(schema["values"]) == 0:
                return True
            pending.append(schema["values"])
        elif kind in ("record", "error"):
            visited_names.add(schema.get("name", ""))
            pending.extend(field["type"] for field in schema["fields"])
        elif isinstance(kind, (dict, list)):
            pending.append(kind)
    return False


class _MinBytes:
    """The fewest bytes a value of a schema takes, each named type computed once."""

    def __init__(self, named_types: Mapping[str, Any]) -> None:
        self._named_types = named_types
        self._known: dict[str, int] = {}
        self._computing: set[str] = set()

    def of(self, schema: Any) -> int:
        if isinstance(schema, str):
            if schema in _PRIMITIVE_MIN_BYTES:
                return _PRIMITIVE_MIN_BYTES[schema]
            return self._named(schema, self._named_types[schema])
        if isinstance(schema, list):
            return 1  # a union's branch index
        kind = schema["type"]
        if isinstance(kind, (dict, list)):
            return self.of(kind)
        if kind in ("record", "error", "enum", "fixed") and "name" in schema:
            return self._named(schema["name"], schema)
        if kind in ("array", "map"):
            return 1  # the closing block count
        return _PRIMITIVE_MIN_BYTES[kind]  # a primitive with a logical type

    def _named(self, name: str, definition: Mapping[str, Any]) -> int:
        if name in self._known:
            return self._known[name]
        if name in self._computing:
            return 0  # a type inside itself: assume the least, which only errs on the safe side
        self._computing.add(name)
        kind = definition["type"]
        if kind in ("record", "error"):
            size = sum(self.of(field["type"]) for field in definition["fields"])
        elif kind == "fixed":
            size = int(definition["size"])
        else:
            size = 1  # an enum's symbol index
        self._computing.discard(name)
        self._known[name] = size
        return size
