"""chalicelib/db.py reads stored items into models in one pass: every model of every table
comes out exactly as PynamoDB's own way makes it (stored values, defaults, nulls, numbers)."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from chalicelib import db
from chalicelib.models.registry import all_models

NUMBERS = ["0", "7", "1795601520", "-3", "1.5", "1e3", "-0", "12345678901234567890"]


def stored_value(attr: Any, i: int) -> dict[str, Any]:
    if isinstance(attr, TTLAttribute):
        return {"N": "1795601520"}
    if isinstance(attr, NumberAttribute):
        return {"N": NUMBERS[i % len(NUMBERS)]}
    if isinstance(attr, BooleanAttribute):
        return {"BOOL": bool(i % 2)}
    if isinstance(attr, JSONAttribute):
        return {"S": '[{"a": 1, "b": "line\\nbreak", "c": [1.5, null]}]' if i % 2 else '{"k": "\u5f20\u4e09"}'}
    if isinstance(attr, ListAttribute):
        return {"L": [{"S": "x"}, {"S": "y"}] if attr.element_type is UnicodeAttribute else [{"N": "1.25"}]}
    assert type(attr) is UnicodeAttribute, attr
    return {"S": f"value-{i}"}


def pynamodb_way(model: type[Model], item: dict[str, Any]) -> dict[str, Any]:
    return dict(db._PYNAMODB_INSTANTIATE(model, item).attribute_values)


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m.__name__)
def test_every_model_loads_as_pynamodb_loads_it(model: type[Model]) -> None:
    attributes = model.get_attributes()
    full = {a.attr_name: stored_value(a, i) for i, a in enumerate(attributes.values())}
    keys_only = {a.attr_name: full[a.attr_name] for a in attributes.values() if a.is_hash_key or a.is_range_key}
    nulls = {**keys_only, **{a.attr_name: {"NULL": True} for a in attributes.values() if a.attr_name not in keys_only}}
    assert db._plan(model), "no model of ours needs PynamoDB's own way"
    for item in (full, keys_only, nulls, {}):
        loaded, expected = model.from_raw_data(item).attribute_values, pynamodb_way(model, item)
        assert type(model.from_raw_data(item)) is model
        assert loaded == expected
        assert {k: type(v) for k, v in loaded.items()} == {k: type(v) for k, v in expected.items()}


def test_numbers_come_out_as_pynamodb_decodes_them() -> None:
    for text in [*NUMBERS, "007", "+1", "\u00b2", " 1"]:
        try:
            expected: Any = NumberAttribute().deserialize(text)
        except ValueError as exc:
            with pytest.raises(type(exc)):
                db._number(text)
        else:
            assert db._number(text) == expected and type(db._number(text)) is type(expected), text
