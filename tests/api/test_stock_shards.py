"""A SKU's stock split over shards for a flash sale (issue 29): the merchant raises
`stock_shards` before a sale, buyers are spread over the shards, every take is a
conditional write (never oversold), and releases go back to the shards taken from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.clock import clock
from chalicelib.models.catalog import Sku, StockShard
from chalicelib.models.orders import Order
from chalicelib.services import checkout, stock
from chalicelib.services.checkout import Line
from tests.conftest import Api
from tests.support.shopping import ADDRESS, MERCHANT, create_product, racing_transactions, run_together, stock_of


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


# --- checkout over shards ----------------------------------------------------------------------------


def buy(user: str, sku_id: str, quantity: int = 1) -> Any:
    """A checkout by `user` (a channel payment: no 先用后付 activation needed), or its error."""
    try:
        return checkout.checkout(
            user,
            items=[Line(sku_id, quantity)],
            from_cart=False,
            payment_method="alipay",
            coupon_id=None,
            address=ADDRESS,
            now=clock.now(),
        ).orders[0]
    except errors.DomainError as exc:
        return exc


def test_buyers_are_spread_over_the_shards(api: Api) -> None:
    product = sharded(api, 400, 4)
    sku_id = product["skus"][0]["sku_id"]
    bought = [buy(f"u-buyer-{i}", sku_id) for i in range(40)]
    assert all(isinstance(o, Order) for o in bought), bought
    left = shard_stock(sku_id)
    assert sum(left) == 400 - 40
    assert all(s < 100 for s in left), left  # every shard sold some: buyers spread
    taken = Counter(stock.takes_of(o.items[0])[0][0] for o in bought)
    assert [100 - s for s in left] == [taken[k] for k in range(4)]


def test_a_short_shard_is_made_up_from_the_others_and_a_cancel_gives_them_back(api: Api) -> None:
    product = sharded(api, 4, 4)  # one unit a shard
    sku_id = product["skus"][0]["sku_id"]
    order = buy("u-big-buyer", sku_id, 3)
    assert isinstance(order, Order), order
    takes = stock.takes_of(order.items[0])
    assert sorted(q for _, q in takes) == [1, 1, 1] and len({k for k, _ in takes}) == 3
    assert shard_stock(sku_id).count(0) == 3
    assert isinstance(buy("u-late", sku_id, 2), errors.Conflict)  # one unit left
    r = api.post(f"/v1/orders/{order.order_id}/cancel", as_="u-big-buyer")
    assert r.status_code == 200, r.json
    assert shard_stock(sku_id) == [1, 1, 1, 1]  # each unit back where it came from


def test_the_price_charged_is_the_shards_even_when_this_process_remembers_an_old_one(api: Api) -> None:
    product = sharded(api, 10, 2)
    sku_id = product["skus"][0]["sku_id"]
    assert isinstance(buy("u-first", sku_id), Order)  # the SKU item is now cached here
    remembered = dict(stock._cache)
    assert edit(api, product, price_fen=1990, stock=9).status_code == 200
    stock._cache.update(remembered)  # as another container would still have it
    order = buy("u-second", sku_id)
    assert isinstance(order, Order), order
    assert order.items[0]["unit_price_fen"] == 1990


@pytest.mark.parametrize("wanted", [[1] * 8, [2, 1, 1, 2, 1, 1]])
def test_a_nearly_empty_sharded_sku_is_never_oversold(api: Api, wanted: list[int]) -> None:
    """Buyers race for the last units: every checkout reads before any writes (a barrier),
    so each decides on the same stale view; the conditional takes sell what there is, never more."""
    product = sharded(api, 5, 4)  # [2, 1, 1, 1]
    sku_id = product["skus"][0]["sku_id"]
    buyers = [(f"u-racer-{i}", q) for i, q in enumerate(wanted)]
    with racing_transactions(len(buyers), first_only=True):
        results = run_together(*(lambda u=u, q=q: buy(u, sku_id, q) for u, q in buyers))
    sold = sum(q for (_, q), r in zip(buyers, results, strict=True) if isinstance(r, Order))
    losers = [r for r in results if not isinstance(r, Order)]
    assert all(isinstance(r, errors.Conflict) and r.code == "out_of_stock" for r in losers), losers
    left = shard_stock(sku_id)
    assert min(left) >= 0 and sold == 5 - sum(left) and sold <= 5, (left, results)
    # The rest sells to the next buyers one by one, to the last unit, then nothing.
    for i in range(sum(left)):
        assert isinstance(buy(f"u-next-{i}", sku_id), Order)
    assert shard_stock(sku_id) == [0, 0, 0, 0]
    late = buy("u-too-late", sku_id)
    assert isinstance(late, errors.Conflict) and late.code == "out_of_stock"


def test_a_price_change_and_a_checkout_exclude_each_other(api: Api) -> None:
    """Both read before either writes: either the checkout charged the old price and the edit
    fails (the stock moved), or the edit won and the checkout fails (the price moved)."""
    product = sharded(api, 6, 2)
    sku_id = product["skus"][0]["sku_id"]

    def reprice() -> Any:
        r = edit(api, product, price_fen=1990, stock=6)
        return r.status_code

    with racing_transactions(2, first_only=True):
        bought, edited = run_together(lambda: buy("u-racer", sku_id), reprice)
    assert isinstance(bought, Order) != (edited == 200), (bought, edited)
    price = int(StockShard.get(sku_id, consistent_read=True).price_fen)
    if isinstance(bought, Order):
        assert (bought.items[0]["unit_price_fen"], price) == (2990, 2990)
    else:
        assert bought.code == "out_of_stock" and price == 1990
