"""`batch.get_many`: one BatchGetItem for up to 100 keys (DynamoDB's limit), more past it;
two models sharing a table (a SKU and its stock shards) each read as itself."""

from __future__ import annotations

from typing import Any

from chalicelib import batch
from chalicelib.db import connection
from chalicelib.models.catalog import Sku, StockShard
from chalicelib.models.risk import RiskCounter


def _count_batch_gets() -> tuple[list[int], Any]:
    calls: list[int] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        calls.append(sum(len(t["Keys"]) for t in params["RequestItems"].values()))

    return calls, seen


def test_more_than_100_keys_are_read_in_requests_of_100(aws: None) -> None:
    for i in range(0, 150, 2):
        RiskCounter(f"merchant#m#{i:02d}", "2026-12-07", n=i).save()
    keys: list[batch.Key] = [(RiskCounter, f"merchant#m#{i:02d}", "2026-12-07") for i in range(150)]
    calls, seen = _count_batch_gets()
    client = connection().client
    client.meta.events.register("before-parameter-build.dynamodb.BatchGetItem", seen, unique_id="count")
    try:
        got = batch.get_many(keys)
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.BatchGetItem", unique_id="count")
    assert calls == [100, 50]
    assert [int(x.n) if isinstance(x, RiskCounter) else None for x in got] == [
        i if i % 2 == 0 else None for i in range(150)
    ]


def test_a_sku_and_its_stock_shard_are_each_read_as_their_model(aws: None) -> None:
    Sku(
        "sku_x",
        product_id="p",
        merchant_id="m",
        product_name="n",
        price_fen=100,
        stock=1,
        stock_shards=2,
        created_at="t",
        updated_at="t",
    ).save()
    StockShard("sku_x#1", stock=4, price_fen=100).save()
    head, shard = batch.get_many([(Sku, "sku_x", None), (StockShard, "sku_x#1", None)])
    assert isinstance(head, Sku) and int(head.stock_shards) == 2
    assert isinstance(shard, StockShard) and int(shard.stock) == 4
