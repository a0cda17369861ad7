"""chalicelib/db.py reads stored items into models in one pass: every model of every table
comes out exactly as PynamoDB's own way makes it (stored values, defaults, nulls, numbers)."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
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
    if db._holds_maps(attr):
        return {"L": [{"M": {"secret": {"S": "whsec_x"}, "expires_at": {"S": "2026-12-08T00:00:00Z"}}}]}
    if isinstance(attr, ListAttribute):
        return {"L": [{"S": "x"}, {"S": "y"}] if attr.element_type is UnicodeAttribute else [{"N": "1.25"}]}
    assert type(attr) is UnicodeAttribute, attr
    return {"S": f"value-{i}"}


def pynamodb_way(model: type[Model], item: dict[str, Any]) -> dict[str, Any]:
    return dict(db._PYNAMODB_INSTANTIATE(model, item).attribute_values)


def plain(value: Any) -> Any:
    """Maps compared by their values (a MapAttribute instance equals only itself)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value.as_dict() if isinstance(value, MapAttribute) else value


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m.__name__)
def test_every_model_loads_as_pynamodb_loads_it(model: type[Model]) -> None:
    attributes = model.get_attributes()
    full = {a.attr_name: stored_value(a, i) for i, a in enumerate(attributes.values())}
    keys_only = {a.attr_name: full[a.attr_name] for a in attributes.values() if a.is_hash_key or a.is_range_key}
    nulls = {**keys_only, **{a.attr_name: {"NULL": True} for a in attributes.values() if a.attr_name not in keys_only}}
    lists_of_maps = [a for a in attributes.values() if db._holds_maps(a)]
    assert bool(db._plan(model)) == (not lists_of_maps), "only a list of maps needs PynamoDB's own way"
    for item in (full, keys_only, nulls, {}):
        loaded, expected = model.from_raw_data(item).attribute_values, pynamodb_way(model, item)
        assert type(model.from_raw_data(item)) is model
        assert plain(loaded) == plain(expected)
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
