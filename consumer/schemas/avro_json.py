"""How a decoded Avro datum becomes JSON: one conversion per schema, built once.

fastavro reads a body into dicts, lists and scalars; the conversion built here turns the parts
JSON has no form for into JSON values, and msgspec writes the rest as it is. The mapping:

| Avro                      | JSON                                                               |
| ------------------------- | ------------------------------------------------------------------ |
| null, boolean, string     | null, true/false, string (any Unicode, UTF-8)                      |
| int, long                 | number (a long beyond 2^53 loses precision in JavaScript readers)  |
| float, double             | number; NaN, Infinity, -Infinity as those strings                  |
| bytes, fixed              | base64 string (RFC 4648, padded)                                   |
| enum                      | its symbol                                                         |
| record, map               | object (record fields in schema order)                             |
| array                     | array                                                              |
| union                     | the branch's value, plain: no {"type": value} wrapper              |
| decimal (bytes, fixed)    | string, plain notation, exactly `scale` decimals: "-12.30"         |
| uuid (string, fixed 16)   | string ("7f2c…" canonical form for fixed)                          |
| date                      | "2024-02-29"                                                       |
| time-millis / -micros     | "13:45:00.125" / "13:45:00.125000"                                 |
| timestamp-millis/-micros/-nanos | "2024-02-29T13:45:00.125Z" (3, 6 or 9 decimals, always)      |
| local-timestamp-…         | the same without the "Z"                                           |
| duration (fixed 12)       | {"months": m, "days": d, "milliseconds": ms}                       |
| any other logical type    | as its underlying type (as the Avro spec requires)                 |

Why:
- Lambda's trigger documents only that EventRecordFormat=JSON delivers "a standard JSON object";
  Powertools' Kafka utilities then json-load that value (JsonDeserializer) and hand it to a
  dataclass or Pydantic model. So the target is the business object's natural JSON: plain union
  values (Avro's own JSON encoding, {"string": "x"}, would break `name: str | None` models and
  filter patterns alike), ISO 8601 text for dates and times (what Pydantic, java.time and
  JavaScript's Date parse), decimals as strings (a JSON number would round through float64).
- Lossless: every value keeps all its information. Dates and timestamps beyond years 1-9999
  use ISO 8601 expanded years as java.time prints them ("+10000-01-01", "-0001-12-31"), since
  Long.MIN_VALUE is a common "no time" sentinel. Decimals are formatted from the unscaled
  integer, not through a context that could round.
- bytes as base64: what msgspec and Protobuf's canonical JSON write; Avro JSON's ISO-8859-1
  string is lossless too but surprises every reader that is not an Avro library.
- NaN and infinities as strings: JSON has no such numbers, and these are the strings Jackson
  writes by default (WRITE_NAN_AS_STRINGS) and Protobuf's canonical JSON uses.
- Stable: the same body always gives the same bytes (fixed decimals per logical type).

What is lost: which branch of a union a value came from, where two branches look alike in JSON
(two record types, or string and enum). A union whose int and long branches convert
differently (["int"(date), "long"(timestamp-millis)]) cannot even be converted: the value
alone does not say which it is, so such a schema is `UnusableSchema`.

Invariants: a schema whose data needs no conversion gets none (`convert` is None: msgspec writes
the datum as read); a conversion mutates the fresh dicts fastavro returned, in place, and raises
`UndecodableRecord` (never another exception) for a value its logical type forbids.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeGuard

from consumer.schemas.model import UndecodableRecord, UnusableSchema

Conversion = Callable[[Any], Any]

# The key a schema's logicalType is moved to before fastavro parses it, so that fastavro reads
# the underlying values (ints, bytes) and the conversions here alone decide their JSON.
LOGICAL_TYPE_KEY = "x-json-logicalType"

_PRIMITIVE_PYTHON_TYPES: dict[str, type] = {
    "null": type(None),
    "boolean": bool,
    "int": int,
    "long": int,
    "float": float,
    "double": float,
    "bytes": bytes,
    "string": str,
}
_NAMED_KINDS = frozenset({"record", "error", "enum", "fixed"})

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MAX_ORDINAL = date.max.toordinal()
_DAYS_PER_400_YEARS = 146_097  # the Gregorian calendar repeats exactly every 400 years
_SECONDS_PER_DAY = 86_400


def hide_logical_types(schema: Any) -> Any:
    """The schema (parsed JSON) with each logicalType moved to LOGICAL_TYPE_KEY.

    Only schema positions are visited (types, fields, items, values, union branches), never
    default values or docs, which may hold a "logicalType" key of their own.
    """
    if isinstance(schema, list):
        return [hide_logical_types(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    hidden = {key: value for key, value in schema.items() if key != "logicalType"}
    if "logicalType" in schema:
        hidden[LOGICAL_TYPE_KEY] = schema["logicalType"]
    for key in ("type", "items", "values"):
        if key in hidden:
            hidden[key] = hide_logical_types(hidden[key])
    if isinstance(hidden.get("fields"), list):
        hidden["fields"] = [
            {**field, "type": hide_logical_types(field["type"])}
            if isinstance(field, dict) and "type" in field
            else field
            for field in hidden["fields"]
        ]
    return hidden


@dataclass(frozen=True, slots=True)
class JsonConversion:
    convert: Conversion | None  # None: the datum is JSON-ready as fastavro reads it
    recursive: bool  # a named type contains itself, so a value can nest without bound


def json_conversion(parsed_schema: Any, named_types: Mapping[str, Any]) -> JsonConversion:
    """The conversion of data read with `parsed_schema` (fastavro's parse, logical types
    hidden, read with return_named_type=True) into JSON-ready values.

    `named_types` maps each full name to its parsed definition (fastavro's named_schemas).
    """
    builder = _Builder(named_types)
    convert = builder.build(parsed_schema, "the top level")
    return JsonConversion(convert, builder.recursive)


class _Builder:
    """Builds conversions, each named type once; a recursive type refers to itself late."""

    def __init__(self, named_types: Mapping[str, Any]) -> None:
        self._named_types = named_types
        self._named: dict[str, Conversion | None] = {}
        self._building: set[str] = set()
        self.recursive = False

    def build(self, schema: Any, where: str) -> Conversion | None:
        if isinstance(schema, str):
            if schema in _PRIMITIVE_PYTHON_TYPES:
                return _finite_or_text if schema in ("float", "double") else None
            return self._named_type(schema)
        if isinstance(schema, list):
            return self._union(schema, where)
        kind = schema["type"]
        if isinstance(kind, (dict, list)):
            return self.build(kind, where)
        if kind in _NAMED_KINDS and "name" in schema:
            return self._named_type(schema["name"])
        if kind == "array":
            return _each_item(self.build(schema["items"], f"{where}[]"))
        if kind == "map":
            return _each_value(self.build(schema["values"], f"{where}{{}}"))
        logical = _logical_conversion(schema, where)
        if logical is not None:
            return logical
        return self.build(kind, where)

    def _named_type(self, name: str) -> Conversion | None:
        if name in self._named:
            return self._named[name]
        if name in self._building:
            self.recursive = True
            return self._late(name)
        self._building.add(name)
        definition = self._named_types[name]
        if definition["type"] in ("record", "error"):
            conversion = self._record(definition)
        else:
            conversion = _logical_conversion(definition, name)
        self._building.discard(name)
        self._named[name] = conversion
        return conversion

    def _late(self, name: str) -> Conversion:
        def convert_recursive(value: Any) -> Any:
            conversion = self._named[name]
            return value if conversion is None else conversion(value)

        return convert_recursive

    def _record(self, definition: Mapping[str, Any]) -> Conversion | None:
        record_name = definition["name"]
        fields = []
        for field in definition["fields"]:
            conversion = self.build(field["type"], f"{record_name}.{field['name']}")
            if conversion is not None:
                fields.append((field["name"], conversion))
        if not fields:
            return None

        def convert_record(record: dict[str, Any]) -> dict[str, Any]:
            for name, conversion in fields:
                record[name] = conversion(record[name])
            return record

        return convert_record

    def _union(self, branches: list[Any], where: str) -> Conversion | None:
        by_name: dict[str, Conversion | None] = {}
        by_python_type: dict[type, Conversion | None] = {}
        for branch in branches:
            name = self._full_name(branch)
            conversion = self.build(branch, where)
            if name is not None:
                by_name[name] = conversion
                continue
            python_type = self._python_type(branch)
            if python_type in by_python_type and by_python_type[python_type] is not conversion:
                raise UnusableSchema(
                    f"the union at {where} has two {python_type.__name__} branches that"
                    " convert to JSON differently (a logical type on one); not supported"
                )
            by_python_type[python_type] = conversion
        if not by_name and all(conversion is None for conversion in by_python_type.values()):
            return None

        def convert_union(value: Any) -> Any:
            # fastavro's return_named_type: a named branch's value comes as (full name, value).
            if type(value) is tuple:
                name, value = value
                conversion = by_name[name]
            else:
                conversion = by_python_type.get(type(value))
            return value if conversion is None else conversion(value)

        return convert_union

    def _full_name(self, schema: Any) -> str | None:
        if isinstance(schema, str):
            return None if schema in _PRIMITIVE_PYTHON_TYPES else schema
        if isinstance(schema, dict):
            kind = schema["type"]
            if kind in _NAMED_KINDS and "name" in schema:
                return str(schema["name"])
            if kind not in ("array", "map") and isinstance(kind, (str, dict)):
                return self._full_name(kind)
        return None

    def _python_type(self, schema: Any) -> type:
        if isinstance(schema, str):
            return _PRIMITIVE_PYTHON_TYPES[schema]
        if isinstance(schema, list):
            raise UnusableSchema("a union directly inside a union is not valid Avro")
        kind = schema["type"]
        if kind == "array":
            return list
        if kind == "map":
            return dict
        return self._python_type(kind)


def _each_item(conversion: Conversion | None) -> Conversion | None:
    if conversion is None:
        return None
    return lambda items: [conversion(item) for item in items]


def _each_value(conversion: Conversion | None) -> Conversion | None:
    if conversion is None:
        return None
    return lambda values: {key: conversion(value) for key, value in values.items()}


def _finite_or_text(number: float) -> float | str:
    if math.isfinite(number):
        return number
    if number != number:
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def _logical_conversion(schema: Mapping[str, Any], where: str) -> Conversion | None:
    """The conversion a logical type asks for; None for an unknown or malformed one (the spec:
    "an implementation must ignore" it and use the underlying type)."""
    logical = schema.get(LOGICAL_TYPE_KEY)
    underlying = schema["type"]
    if logical == "decimal" and underlying in ("bytes", "fixed"):
        precision, scale = schema.get("precision"), schema.get("scale", 0)
        if _is_int(precision) and _is_int(scale) and 0 <= scale <= precision and precision > 0:
            return _decimal_text(scale, where)
    elif logical == "uuid" and underlying == "fixed" and schema.get("size") == 16:
        return lambda raw: str(uuid.UUID(bytes=raw))
    elif logical == "date" and underlying == "int":
        return iso_date
    elif logical == "time-millis" and underlying == "int":
        return _time_of_day_text(1_000, 3, where)
    elif logical == "time-micros" and underlying == "long":
        return _time_of_day_text(1_000_000, 6, where)
    elif underlying == "long" and isinstance(logical, str):
        for prefix, suffix in (("timestamp-", "Z"), ("local-timestamp-", "")):
            unit = logical.removeprefix(prefix)
            if unit != logical and unit in _UNITS_PER_SECOND:
                return _timestamp_text(*_UNITS_PER_SECOND[unit], suffix)
    elif logical == "duration" and underlying == "fixed" and schema.get("size") == 12:
        return _duration_object
    return None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _decimal_text(scale: int, where: str) -> Conversion:
    def convert_decimal(raw: bytes) -> str:
        if not raw:
            raise UndecodableRecord(f"the decimal at {where} has no bytes")
        unscaled = int.from_bytes(raw, "big", signed=True)
        try:
            digits = str(abs(unscaled))
        except ValueError:  # beyond Python's int-to-text limit (4300 digits)
            raise UndecodableRecord(f"the decimal at {where} has too many digits") from None
        sign = "-" if unscaled < 0 else ""
        if scale == 0:
            return sign + digits
        digits = digits.rjust(scale + 1, "0")
        return f"{sign}{digits[:-scale]}.{digits[-scale:]}"

    return convert_decimal


def iso_date(days_since_epoch: int) -> str:
    """ISO 8601 date of a day count from 1970-01-01, any count (expanded years outside 1-9999)."""
    ordinal = days_since_epoch + _EPOCH_ORDINAL
    if 1 <= ordinal <= _MAX_ORDINAL:
        return date.fromordinal(ordinal).isoformat()
    cycles, ordinal_in_cycle = divmod(ordinal - 1, _DAYS_PER_400_YEARS)
    shifted = date.fromordinal(ordinal_in_cycle + 1)
    return f"{_iso_year(shifted.year + 400 * cycles)}-{shifted.month:02d}-{shifted.day:02d}"


def _iso_year(year: int) -> str:
    # As java.time prints years: four digits, a sign beyond 9999 or before year 0.
    if year > 9999:
        return f"+{year}"
    if year < 0:
        return f"-{-year:04d}"
    return f"{year:04d}"


_UNITS_PER_SECOND = {"millis": (1_000, 3), "micros": (1_000_000, 6), "nanos": (1_000_000_000, 9)}


def _timestamp_text(units_per_second: int, decimals: int, suffix: str) -> Conversion:
    units_per_day = units_per_second * _SECONDS_PER_DAY

    def convert_timestamp(value: int) -> str:
        days, unit_of_day = divmod(value, units_per_day)
        return f"{iso_date(days)}T{_clock(unit_of_day, units_per_second, decimals)}{suffix}"

    return convert_timestamp


def _time_of_day_text(units_per_second: int, decimals: int, where: str) -> Conversion:
    units_per_day = units_per_second * _SECONDS_PER_DAY

    def convert_time_of_day(value: int) -> str:
        if not 0 <= value < units_per_day:
            raise UndecodableRecord(f"the time of day at {where} is outside one day")
        return _clock(value, units_per_second, decimals)

    return convert_time_of_day


def _clock(unit_of_day: int, units_per_second: int, decimals: int) -> str:
    seconds, fraction = divmod(unit_of_day, units_per_second)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{fraction:0{decimals}d}"


def _duration_object(raw: bytes) -> dict[str, int]:
    # The spec: three little-endian unsigned 32-bit integers.
    return {
        "months": int.from_bytes(raw[0:4], "little"),
        "days": int.from_bytes(raw[4:8], "little"),
        "milliseconds": int.from_bytes(raw[8:12], "little"),
    }
