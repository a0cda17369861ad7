"""`batch.get_many`: one BatchGetItem for up to 100 keys (DynamoDB's limit), more past it;
two models sharing a table (a SKU and its stock shards) each read as itself."""

from __future__ import annotations

from typing import Any

from chalicelib import batch
from chalicelib.db import connection
from chalicelib.models.catalog import Sku, StockShard
from chalicelib.models.payments import PaymentAttempt
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


def test_under_key_sends_pynamodbs_query_and_follows_every_page(aws: None) -> None:
    common: dict[str, Any] = {
        "user_id": "u",
        "channel": "alipay",
        "amount_fen": 5,
        "currency": "CNY",
        "updated_at": "2026-12-07T10:00:00Z",
    }
    for n in range(3):
        PaymentAttempt(f"pa-{n}", order_id="o-1", attempt_no=n, created_at=f"2026-12-07T10:0{n}:00Z", **common).save()
    PaymentAttempt("pa-other", order_id="o-2", attempt_no=0, created_at="2026-12-07T10:00:00Z", **common).save()
    sent: list[dict[str, Any]] = []

    def one_per_page(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))
        params["Limit"] = 1  # the store answers in pages: every one is followed

    client = connection().client
    client.meta.events.register("before-parameter-build.dynamodb.Query", one_per_page, unique_id="pages")
    try:
        ours = batch.under_key(PaymentAttempt.by_order, "o-1")
        theirs = list(PaymentAttempt.by_order.query("o-1"))
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.Query", unique_id="pages")
    assert [a.attribute_values for a in ours] == [a.attribute_values for a in theirs]
    assert [a.attempt_id for a in ours] == ["pa-0", "pa-1", "pa-2"]
    half = len(sent) // 2
    assert half >= 3 and sent[:half] == sent[half:]  # page by page, the same requests PynamoDB sends
