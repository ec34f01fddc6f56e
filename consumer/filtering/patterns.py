"""Lambda's event-filter patterns (`FILTER_PATTERNS`): parsed, checked and compiled once, then
matched against each record's view (consumer/filtering/record_filter.py builds the view).

The language is the one of Lambda's `FilterCriteria` (EventBridge syntax, the operators of
Lambda's "Filter rule syntax" table, which EventBridge Pipes shares); an operator outside it
is refused, so a pattern that runs here also runs on Lambda's trigger. Semantics, as AWS's
engine (event-ruler) has them:

- a pattern matches when every field it names matches (AND); a field's rules are a list, and
  one matching rule is enough (OR); `$or` takes a list of sub-patterns, one must match;
- rules apply to leaves: strings, numbers, true/false, null. An array in the record matches
  when one of its elements does; an object has no leaves of its own, so at an object only
  `{"exists": false}` matches, and a sub-pattern meeting a leaf or a missing field is matched
  against nothing (only its `exists: false` fields can match);
- strings compare exactly, without case folding (but for `equals-ignore-case` and the
  ignore-case `prefix`/`suffix`); a number compares by value with numbers only (300 matches
  300.0; "300" the string is not 300); true/false/null only with themselves;
- `anything-but` needs the field present (null counts as present); `numeric` only matches
  numbers;
- the record's `value` is judged as Lambda judges Kafka values (filter_matching.value_matcher):
  a rule that does not fit the value's form (JSON or text) is left out.

    patterns = compile_patterns('[{"value": {"type": ["allele"]}}]')  # or FilterPatternError
    patterns[0].matches({"value": {"type": "allele"}})  # True
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

from consumer.filtering.matching import (
    LevelMatcher,
    Matcher,
    is_number,
    leaf_matcher,
    level_matcher,
    nested_matcher,
    value_matcher,
)

# The fields of a Kafka record a pattern can name; consumer/filtering/record_filter.py builds them.
RECORD_FIELDS = (
    "topic",
    "partition",
    "offset",
    "timestamp",
    "timestampType",
    "key",
    "headers",
    "value",
)
VALUE = "value"
OR = "$or"

# Operators of Lambda's filter-rule table (and the Pipe-supported forms of EventBridge's).
OPERATORS = ("prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists")
# EventBridge event-bus operators that Lambda's trigger does not take.
_EVENTBRIDGE_ONLY = ("wildcard", "cidr")
_LOWER_BOUNDS = (">", ">=")
_UPPER_BOUNDS = ("<", "<=")
_SHOWN_CHARS = 120  # of a pattern, in an error line


class FilterPatternError(ValueError):
    """A pattern Lambda's trigger would refuse, or that cannot mean what it says."""


@dataclass(frozen=True)
class Pattern:
    """One compiled pattern.

    `matches(view)` judges a record's view (consumer/filtering/record_filter.py builds it); when the
    pattern names the value alone, `value_matches(value)` judges the value without a view.
    """

    text: str  # the pattern as given, for messages
    names: frozenset[str]  # the record's fields it names, those in `$or` included
    matches: LevelMatcher
    value_matches: Matcher | None


# -- compiling ------------------------------------------------------------------------------


def compile_patterns(text_or_patterns: str | Sequence[Any]) -> list[Pattern]:
    """The patterns of `FILTER_PATTERNS`: a JSON list of pattern objects (or of pattern strings,
    as `FilterCriteria.Filters[].Pattern` holds them), or a whole `FilterCriteria` object."""
    given: Any = text_or_patterns
    if isinstance(given, str):
        if not given.strip():
            return []
        given = _json(given, "")
    if isinstance(given, dict) and set(given) == {"Filters"}:
        given = [_criteria_pattern(item) for item in _list(given["Filters"])]
    if not isinstance(given, list):
        raise FilterPatternError(
            f"must be a JSON list of filter patterns, e.g. "
            f'[{{"value": {{"type": ["allele"]}}}}]; got {_shown(given)}'
        )
    patterns = []
    for number, item in enumerate(given, start=1):
        where = f"pattern {number} of {len(given)}"
        if isinstance(item, str):  # as FilterCriteria.Filters[].Pattern holds it
            item = _json(item, where)
        if not isinstance(item, dict):
            raise FilterPatternError(
                f"{where} is {_shown(item)}: a pattern is a JSON object of fields to rules"
            )
        if not item:
            raise FilterPatternError(
                f"{where} is {{}}: it would pass every record; to filter nothing, leave "
                "FILTER_PATTERNS unset"
            )
        text = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
        try:
            level = _compile_level(item, path=(), top=True)
        except FilterPatternError as problem:
            raise FilterPatternError(f"{where} {_shown_text(text)}: {problem}") from None
        only_value = level.names == {VALUE} and not level.any_of
        patterns.append(
            Pattern(
                text,
                level.names,
                level.matches,
                dict(level.fields)[VALUE] if only_value else None,
            )
        )
    return patterns


@dataclass(frozen=True)
class _Level:
    fields: tuple[tuple[str, Matcher], ...]
    any_of: tuple[tuple[_Level, ...], ...]

    @property
    def names(self) -> frozenset[str]:
        found = {name for name, _ in self.fields}
        for group in self.any_of:
            for level in group:
                found |= level.names
        return frozenset(found)

    @property
    def matches(self) -> LevelMatcher:
        return level_matcher(
            self.fields, [[level.matches for level in group] for group in self.any_of]
        )


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as bad:
        raise FilterPatternError(
            f"{f'{where} is ' if where else ''}not JSON: {bad.msg} at line {bad.lineno} "
            f"column {bad.colno}"
        ) from None


def _no_constant(name: str) -> Any:
    raise FilterPatternError(f"{name} is not a JSON number: write a number or a string")


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise FilterPatternError('FilterCriteria\'s "Filters" must be a list')
    return value


def _criteria_pattern(item: Any) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("Pattern"), str):
        raise FilterPatternError(
            'each of FilterCriteria\'s "Filters" is {"Pattern": "<pattern as JSON text>"}'
        )
    return item["Pattern"]


def _compile_level(pattern: dict[str, Any], path: tuple[str, ...], top: bool) -> _Level:
    fields: list[tuple[str, Matcher]] = []
    groups: list[tuple[_Level, ...]] = []
    for name, rule in pattern.items():
        if name == OR:
            groups.append(_compile_or(rule, path, top))
            continue
        if top and name not in RECORD_FIELDS:
            raise FilterPatternError(_unknown_field(name))
        where = _path(*path, name)
        compiled: Matcher
        if isinstance(rule, dict):
            if not rule:
                raise FilterPatternError(f"{where} is {{}}: name a field in it, or use rules")
            compiled = nested_matcher(_compile_level(rule, (*path, name), top=False).matches)
        elif isinstance(rule, list):
            compiled = _compile_leaf(rule, where)
        else:
            raise FilterPatternError(
                f"{where} is {_shown(rule)}: a field's rules are a JSON list, e.g. [{_shown(rule)}]"
            )
        if top and name == VALUE:
            compiled = value_matcher(compiled, reaches_into_json=isinstance(rule, dict))
        fields.append((name, compiled))
    return _Level(tuple(fields), tuple(groups))


def _compile_or(rule: Any, path: tuple[str, ...], top: bool) -> tuple[_Level, ...]:
    where = _path(*path, OR)
    if (
        not isinstance(rule, list)
        or len(rule) < 2
        or not all(isinstance(item, dict) and item for item in rule)
    ):
        raise FilterPatternError(
            f"{where} is {_shown(rule)}: $or takes a list of two or more patterns, e.g. "
            '[{"type": ["a"]}, {"kind": ["b"]}]'
        )
    return tuple(_compile_level(item, path, top) for item in rule)


def _unknown_field(name: str) -> str:
    close = get_close_matches(name, RECORD_FIELDS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"{name!r} is not a field of a Kafka record{hint}: a pattern names "
        f"{', '.join(RECORD_FIELDS)} at its top; the record's JSON fields go under "
        f'"value", e.g. {{"value": {{{json.dumps(name)}: [...]}}}}'
    )


def _compile_leaf(rules: list[Any], where: str) -> Matcher:
    if not rules:
        raise FilterPatternError(f"{where} is []: list at least one rule")
    strings: set[str] = set()
    numbers: set[int | float] = set()
    literals: list[bool | None] = []
    tests: list[Matcher] = []
    if_present = if_absent = False
    for rule in rules:
        if isinstance(rule, str):
            strings.add(rule)
        elif is_number(rule):
            numbers.add(rule)
        elif rule is None or isinstance(rule, bool):
            literals.append(rule)
        elif isinstance(rule, dict):
            operator, operand = _operator(rule, where)
            if operator == "exists":
                if not isinstance(operand, bool):
                    raise FilterPatternError(
                        f"{where}: exists takes true or false, not {_shown(operand)}"
                    )
                if_present |= operand
                if_absent |= not operand
            else:
                tests.append(_COMPILERS[operator](operand, where))
        else:  # a list in a list
            raise FilterPatternError(
                f"{where} holds {_shown(rule)}: rules are strings, numbers, true, false, null "
                "or one-operator objects, not lists"
            )
    return leaf_matcher(
        frozenset(strings), frozenset(numbers), tuple(literals), tuple(tests), if_present, if_absent
    )


def _operator(rule: dict[str, Any], where: str) -> tuple[str, Any]:
    if len(rule) != 1:
        raise FilterPatternError(
            f"{where} holds {_shown(rule)}: an operator object has exactly one operator"
        )
    [(operator, operand)] = rule.items()
    if operator in OPERATORS:
        return operator, operand
    if operator in _EVENTBRIDGE_ONLY:
        raise FilterPatternError(
            f"{where}: {operator!r} is an EventBridge operator that Lambda's filters do not "
            f"take; use one of {', '.join(OPERATORS)}"
        )
    raise FilterPatternError(
        f"{where}: {operator!r} is not a filter operator; use one of {', '.join(OPERATORS)}"
    )


def _text_operand(operator: str, operand: Any, where: str) -> tuple[str, bool]:
    """(text, ignore case) of `prefix`/`suffix`: "text" or {"equals-ignore-case": "text"}."""
    if isinstance(operand, str):
        return operand, False
    if (
        isinstance(operand, dict)
        and list(operand) == ["equals-ignore-case"]
        and isinstance(operand["equals-ignore-case"], str)
    ):
        return operand["equals-ignore-case"], True
    raise FilterPatternError(
        f'{where}: {operator} takes a string, or {{"equals-ignore-case": "<string>"}}; '
        f"got {_shown(operand)}"
    )


def _prefix(operand: Any, where: str) -> Matcher:
    text, ignore_case = _text_operand("prefix", operand, where)
    if ignore_case:
        lowered = text.lower()
        return lambda value: type(value) is str and value.lower().startswith(lowered)
    return lambda value: type(value) is str and value.startswith(text)


def _suffix(operand: Any, where: str) -> Matcher:
    text, ignore_case = _text_operand("suffix", operand, where)
    if ignore_case:
        lowered = text.lower()
        return lambda value: type(value) is str and value.lower().endswith(lowered)
    return lambda value: type(value) is str and value.endswith(text)


def _equals_ignore_case(operand: Any, where: str) -> Matcher:
    if not isinstance(operand, str):
        raise FilterPatternError(
            f"{where}: equals-ignore-case takes one string, not {_shown(operand)}"
        )
    lowered = operand.lower()
    return lambda value: type(value) is str and value.lower() == lowered


def _anything_but(operand: Any, where: str) -> Matcher:
    values = operand if isinstance(operand, list) else [operand]
    if isinstance(operand, dict):
        raise FilterPatternError(
            f"{where}: anything-but with {_shown(operand)} is an EventBridge form that Lambda's "
            "filters do not take; list the values to exclude, e.g. "
            '{"anything-but": ["a", "b"]}'
        )
    if not values or not (
        all(isinstance(v, str) for v in values) or all(is_number(v) for v in values)
    ):
        raise FilterPatternError(
            f"{where}: anything-but takes a string, a number, or a non-empty list of only "
            f"strings or only numbers; got {_shown(operand)}"
        )
    excluded = frozenset(values)
    if isinstance(values[0], str):
        return lambda value: type(value) is not str or value not in excluded
    return lambda value: not is_number(value) or value not in excluded


def _numeric(operand: Any, where: str) -> Matcher:
    shape = (
        'numeric takes ["=", n], [">", n], [">=", n], ["<", n], ["<=", n] or a range '
        '[">", low, "<=", high]'
    )
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise FilterPatternError(f"{where}: {shape}; got {_shown(operand)}")
    pairs = [(operand[i], operand[i + 1]) for i in range(0, len(operand), 2)]
    for operator, number in pairs:
        if operator not in ("=", *_LOWER_BOUNDS, *_UPPER_BOUNDS):
            raise FilterPatternError(
                f"{where}: {_shown(operator)} is not a numeric operator; {shape}"
            )
        if not is_number(number) or not math.isfinite(number):
            raise FilterPatternError(
                f"{where}: numeric compares with numbers, not {_shown(number)}"
            )
    if len(pairs) == 2:
        kinds = sorted(op in _LOWER_BOUNDS for op, _ in pairs)
        if "=" in (pairs[0][0], pairs[1][0]) or kinds != [False, True]:
            raise FilterPatternError(
                f"{where}: a numeric range has one lower bound (> or >=) and one upper "
                f"bound (< or <=); got {_shown(operand)}"
            )
        low = next(n for op, n in pairs if op in _LOWER_BOUNDS)
        high = next(n for op, n in pairs if op in _UPPER_BOUNDS)
        if not low < high:
            raise FilterPatternError(
                f"{where}: the range's lower bound {low} must be below its upper bound {high}"
            )
    checks = [_COMPARISONS[op](n) for op, n in pairs]
    return lambda value: is_number(value) and all(check(value) for check in checks)


_COMPARISONS: dict[str, Callable[[int | float], Matcher]] = {
    "=": lambda n: lambda value: value == n,
    ">": lambda n: lambda value: value > n,
    ">=": lambda n: lambda value: value >= n,
    "<": lambda n: lambda value: value < n,
    "<=": lambda n: lambda value: value <= n,
}

_COMPILERS: dict[str, Callable[[Any, str], Matcher]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "anything-but": _anything_but,
    "numeric": _numeric,
}


def _path(*names: str) -> str:
    return ".".join(names)


def _shown(value: Any) -> str:
    return _shown_text(json.dumps(value, ensure_ascii=False))


def _shown_text(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
