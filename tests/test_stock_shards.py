"""A SKU's stock split over shards for a flash sale (issue 29): the merchant raises
`stock_shards` before a sale, buyers are spread over the shards, every take is a
conditional write (never oversold), and releases go back to the shards taken from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.models.catalog import Sku, StockShard
from chalicelib.services import stock
from tests.conftest import Api
from tests.shopping import MERCHANT, create_product, stock_of


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    stock.forget()
    yield
    stock.forget()


def shard_stock(sku_id: str) -> list[int]:
    """Every shard's stock, as stored (shard 0 is the SKU item)."""
    n = int(Sku.get(sku_id, consistent_read=True).stock_shards or 1)
    return [int(StockShard.get(stock.shard_key(sku_id, k), consistent_read=True).stock) for k in range(n)]


def edit(api: Api, product: dict[str, Any], **sku: Any) -> Any:
    """PUT the product with its first SKU changed as given."""
    first = {k: product["skus"][0][k] for k in ("sku_id", "attributes", "price_fen", "stock")} | sku
    body = {"name": product["name"], "description": "silicone", "skus": [first]}
    return api.put(f"/v1/merchant/products/{product['product_id']}", body, as_=MERCHANT, roles=["merchant"])


def sharded(api: Api, units: int, shards: int, price_fen: int = 2990) -> dict[str, Any]:
    return create_product(
        api, skus=[{"attributes": {"颜色": "黑色"}, "price_fen": price_fen, "stock": units, "stock_shards": shards}]
    )


def test_a_sku_split_over_shards_shows_its_whole_stock(api: Api) -> None:
    product = sharded(api, 10, 4)
    sku_id = product["skus"][0]["sku_id"]
    assert (product["skus"][0]["stock"], product["skus"][0]["stock_shards"]) == (10, 4)
    assert shard_stock(sku_id) == [3, 3, 2, 2]
    seen = api.get(f"/v1/products/{product['product_id']}", as_="u-browser").json["skus"][0]
    assert (seen["stock"], seen["stock_shards"], seen["available"]) == (10, 4, True)


def test_a_sku_is_one_shard_unless_raised(api: Api) -> None:
    product = create_product(api)
    assert [s["stock_shards"] for s in product["skus"]] == [1, 1]
    assert StockShard.count(stock.shard_key(product["skus"][0]["sku_id"], 1)) == 0


def test_raising_shards_before_a_sale_spreads_the_stock_in_one_write(api: Api) -> None:
    product = create_product(api, skus=[{"attributes": {"颜色": "黑色"}, "price_fen": 2990, "stock": 7}])
    sku_id = product["skus"][0]["sku_id"]
    r = edit(api, product, stock_shards=3)
    assert r.status_code == 200, r.json
    assert shard_stock(sku_id) == [3, 2, 2]
    assert stock_of(api, product) == {sku_id: 7}
    r = edit(api, product, stock_shards=5, stock=11)  # raised again, with a new count
    assert r.status_code == 200, r.json
    assert shard_stock(sku_id) == [3, 2, 2, 2, 2]


def test_shards_only_rise(api: Api) -> None:
    product = sharded(api, 10, 4)
    r = edit(api, product, stock_shards=2)
    assert r.status_code == 422, r.json
    assert r.json["code"] == "stock_shards_lowered"
    assert edit(api, product).status_code == 200  # omitted: as it is
    assert shard_stock(product["skus"][0]["sku_id"]) == [3, 3, 2, 2]


def test_a_product_holds_at_most_99_shards(api: Api) -> None:
    skus = [{"attributes": {"颜色": c}, "price_fen": 100, "stock": 1, "stock_shards": 40} for c in "红黄蓝"]
    r = api.post("/v1/merchant/products", {"name": "x", "skus": skus}, as_=MERCHANT, roles=["merchant"])
    assert (r.status_code, r.json["code"]) == (422, "too_many_stock_shards")
    one = [{"attributes": {}, "price_fen": 100, "stock": 1, "stock_shards": 51}]
    r = api.post("/v1/merchant/products", {"name": "x", "skus": one}, as_=MERCHANT, roles=["merchant"])
    assert (r.status_code, r.json["code"]) == (400, "validation_failed")  # 50 a SKU at most


def test_a_price_change_reaches_every_shard(api: Api) -> None:
    product = sharded(api, 8, 3)
    sku_id = product["skus"][0]["sku_id"]
    assert edit(api, product, price_fen=1990, stock=8).status_code == 200
    prices = [int(StockShard.get(stock.shard_key(sku_id, k), consistent_read=True).price_fen) for k in range(3)]
    assert prices == [1990, 1990, 1990]


def test_withdrawing_a_sharded_sku_closes_every_shard(api: Api) -> None:
    product = create_product(
        api,
        skus=[
            {"attributes": {"颜色": "黑色"}, "price_fen": 2990, "stock": 6, "stock_shards": 3},
            {"attributes": {"颜色": "白色"}, "price_fen": 2990, "stock": 6},
        ],
    )
    gone, kept = product["skus"]
    body = {"name": product["name"], "skus": [{k: kept[k] for k in ("sku_id", "attributes", "price_fen", "stock")}]}
    r = api.put(f"/v1/merchant/products/{product['product_id']}", body, as_=MERCHANT, roles=["merchant"])
    assert r.status_code == 200, r.json
    keys = [stock.shard_key(gone["sku_id"], k) for k in range(3)]
    assert [bool(StockShard.get(k, consistent_read=True).active) for k in keys] == [False, False, False]


def test_shares_are_as_even_as_they_go() -> None:
    assert stock.shares(10, 4) == [3, 3, 2, 2]
    assert stock.shares(2, 4) == [1, 1, 0, 0]
    assert sum(stock.shares(100_003, 32)) == 100_003
