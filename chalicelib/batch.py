"""Several items of several tables in one round trip (BatchGetItem, strongly consistent), and
every item of an index under one key (Query)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pynamodb.models import Model

from . import errors
from .db import connection

Key = tuple[type[Model], Any, Any]  # (model, hash key, range key or None)
MAX_TRIES = 5
MAX_KEYS = 100  # BatchGetItem's limit per request


def _key_of(model: type[Model], raw: dict[str, Any]) -> tuple[str, str, str]:
    names = [model._hash_keyname, model._range_keyname]
    return (model.Meta.table_name, *(str(raw[n]) if n and n in raw else "" for n in names))  # type: ignore[return-value]


def _raw_key(model: type[Model], table: str, raw: dict[str, Any]) -> tuple[str, str, str]:
    names = [model._hash_keyname, model._range_keyname]
    return (table, *(str(next(iter(raw[n].values()))) if n and n in raw else "" for n in names))  # type: ignore[return-value]


def get_many(keys: Sequence[Key]) -> list[Model | None]:
    """The items at `keys`, in order (None where there is none), read in one BatchGetItem
    (more only past 100 keys, DynamoDB's limit for one, or when the store leaves some unprocessed)."""
    queue: list[tuple[str, dict[str, Any]]] = []
    wanted: list[tuple[str, str, str]] = []
    # Several models may share a table (a SKU and its stock shards): each key is read as
    # the model that asked for it.
    models: dict[tuple[str, str, str], type[Model]] = {}
    tables: dict[str, type[Model]] = {}  # one model of each table, for its key names
    for model, hash_key, range_key in keys:
        attrs: dict[str, Any] = {str(model._hash_keyname): hash_key}
        if model._range_keyname:
            attrs[str(model._range_keyname)] = range_key
        item = model(**attrs)
        serialized = item.serialize(null_check=False)
        key = {name: serialized[name] for name in attrs}
        table = model.Meta.table_name
        models.setdefault(_key_of(model, attrs), model)
        tables.setdefault(table, model)
        if (table, key) not in queue:
            queue.append((table, key))
        wanted.append(_key_of(model, attrs))
    found: dict[tuple[str, str, str], Model] = {}
    retries = 0
    while queue:
        chunk, queue = queue[:MAX_KEYS], queue[MAX_KEYS:]
        request: dict[str, dict[str, Any]] = {}
        for table, key in chunk:
            request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
        data = connection().dispatch("BatchGetItem", {"RequestItems": request})
        for table, items in (data.get("Responses") or {}).items():
            for raw in items:
                model = models.get(_raw_key(tables[table], table, raw)) or tables[table]
                obj = model.from_raw_data(raw)
                found[_key_of(model, obj.attribute_values)] = obj
        left = [(table, key) for table, body in (data.get("UnprocessedKeys") or {}).items() for key in body["Keys"]]
        if left:
            retries += 1
            if retries >= MAX_TRIES:
                raise errors.unavailable("temporarily_unavailable", "the store is busy; retry shortly")
            queue = left + queue
    return [found.get(k) for k in wanted]


def under_key(index: Any, hash_key: str) -> list[Any]:
    """Every item of `index` (a PynamoDB index) under `hash_key`, all pages: the Query that
    `index.query(hash_key)` sends, its request built once per index (PynamoDB builds its key
    condition, names and values every time: ~0.1 ms of our own CPU in an order read)."""
    known = _QUERIES.get(index)
    if known is None:
        attr = index._hash_key_attribute()
        known = _QUERIES[index] = (
            {
                "TableName": index._model.Meta.table_name,
                "KeyConditionExpression": "#0 = :0",
                "IndexName": index.Meta.index_name,
                "ExpressionAttributeNames": {"#0": attr.attr_name},
            },
            attr.attr_type,
        )
    template, kind = known
    items: list[Any] = []
    start: dict[str, Any] = {}
    while True:
        request = {**template, "ExpressionAttributeValues": {":0": {kind: hash_key}}, **start}
        data = connection().dispatch("Query", request)
        items += [index._model.from_raw_data(raw) for raw in data.get("Items") or ()]
        if not data.get("LastEvaluatedKey"):
            return items
        start = {"ExclusiveStartKey": data["LastEvaluatedKey"]}


_QUERIES: dict[Any, tuple[dict[str, Any], str]] = {}
