"""The filter operators against a plain reference, on generated rules and records.

The reference says each rule the long way, from the semantics docs/payloads-and-filtering.md
states; the records go through their JSON bytes and the record filter, as fetched records do.
"""

from __future__ import annotations

import json
import operator
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import given
from hypothesis import strategies as st

from consumer.filtering.patterns import compile_patterns
from consumer.filtering.record_filter import RecordFilter

MISSING = object()

words = st.sampled_from(["", "a", "ab", "abc", "Ab", "ABC", "b", "ba", "é", "É", "x-1"])
numbers = st.one_of(
    st.integers(min_value=-1000, max_value=1000),
    st.sampled_from([0.5, -2.5, 10.0, 1e3, 999.999]),
)
leaves = st.one_of(words, numbers, st.booleans(), st.none())
field_values = st.one_of(
    leaves,
    st.lists(leaves, max_size=4),
    st.just({"nested": 1}),
    st.just(MISSING),
)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same_literal(rule: Any, leaf: Any) -> bool:
    if isinstance(rule, str):
        return isinstance(leaf, str) and leaf == rule
    if is_number(rule):
        return is_number(leaf) and leaf == rule
    return leaf is rule  # true, false, null


COMPARE = {
    "=": operator.eq,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def leaf_matches(rule: Any, leaf: Any) -> bool:
    if not isinstance(rule, dict):
        return same_literal(rule, leaf)
    [(name, operand)] = rule.items()
    if name in ("prefix", "suffix"):
        if not isinstance(leaf, str):
            return False
        if isinstance(operand, dict):
            text, value = operand["equals-ignore-case"].lower(), leaf.lower()
        else:
            text, value = operand, leaf
        return value.startswith(text) if name == "prefix" else value.endswith(text)
    if name == "equals-ignore-case":
        return isinstance(leaf, str) and leaf.lower() == operand.lower()
    if name == "anything-but":
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(same_literal(value, leaf) for value in excluded)
    if name == "numeric":
        pairs = zip(operand[::2], operand[1::2], strict=True)
        return is_number(leaf) and all(COMPARE[op](leaf, n) for op, n in pairs)
    raise AssertionError(name)


def field_leaves(value: Any) -> list[Any]:
    if value is MISSING or isinstance(value, dict):
        return []
    if isinstance(value, list):
        return [v for v in value if not isinstance(v, dict | list)]
    return [value]


def reference(rules: list[Any], value: Any) -> bool:
    found = field_leaves(value)
    for rule in rules:
        if rule == {"exists": True} and found:
            return True
        if rule == {"exists": False} and not found:
            return True
        if isinstance(rule, dict) and "exists" in rule:
            continue
        if any(leaf_matches(rule, leaf) for leaf in found):
            return True
    return False


text_operands = st.one_of(words, st.builds(lambda w: {"equals-ignore-case": w}, words))
numeric_operands = st.one_of(
    st.tuples(st.sampled_from(["=", "<", "<=", ">", ">="]), numbers).map(list),
    st.tuples(
        st.sampled_from([">", ">="]),
        st.integers(-1000, 0),
        st.sampled_from(["<", "<="]),
        st.integers(1, 1000),
    ).map(list),
)
anything_but_operands = st.one_of(
    words,
    numbers,
    st.lists(words, min_size=1, max_size=3),
    st.lists(numbers, min_size=1, max_size=3),
)
RULES_BY_OPERATOR = {
    "equals": leaves,
    "prefix": st.builds(lambda o: {"prefix": o}, text_operands),
    "suffix": st.builds(lambda o: {"suffix": o}, text_operands),
    "equals-ignore-case": st.builds(lambda w: {"equals-ignore-case": w}, words),
    "anything-but": st.builds(lambda o: {"anything-but": o}, anything_but_operands),
    "numeric": st.builds(lambda o: {"numeric": o}, numeric_operands),
    "exists": st.builds(lambda b: {"exists": b}, st.booleans()),
}
rules = st.one_of(*RULES_BY_OPERATOR.values())


def through_the_filter(rule_list: list[Any], value: Any) -> bool:
    document = {} if value is MISSING else {"field": value}
    payload = json.dumps({"other": 1, **document}).encode()
    record = ConsumerRecord("t", 0, 0, 0, 0, None, payload, None, -1, len(payload), [])
    patterns = compile_patterns([{"value": {"field": rule_list}}])
    return RecordFilter(patterns).admits(record)


@pytest.mark.parametrize("name", RULES_BY_OPERATOR)
@given(data=st.data())
def test_each_operator_agrees_with_the_reference(name: str, data: st.DataObject) -> None:
    rule = data.draw(RULES_BY_OPERATOR[name], label="rule")
    value = data.draw(field_values, label="field")
    assert through_the_filter([rule], value) is reference([rule], value)


@given(rule_list=st.lists(rules, min_size=2, max_size=4), value=field_values)
def test_rules_of_one_field_are_ored(rule_list: list[Any], value: Any) -> None:
    assert through_the_filter(rule_list, value) is reference(rule_list, value)


@given(
    first=st.lists(rules, min_size=1, max_size=2),
    second=st.lists(rules, min_size=1, max_size=2),
    a=field_values,
    b=field_values,
)
def test_fields_are_anded_and_patterns_are_ored(
    first: list[Any], second: list[Any], a: Any, b: Any
) -> None:
    document = {name: v for name, v in (("a", a), ("b", b)) if v is not MISSING}
    payload = json.dumps(document).encode()
    record = ConsumerRecord("t", 0, 0, 0, 0, None, payload, None, -1, len(payload), [])
    both = RecordFilter(compile_patterns([{"value": {"a": first, "b": second}}]))
    either = RecordFilter(compile_patterns([{"value": {"a": first}}, {"value": {"b": second}}]))
    assert both.admits(record) is (reference(first, a) and reference(second, b))
    assert either.admits(record) is (reference(first, a) or reference(second, b))
