"""Catalog and cart: guide step 第一步 (choose goods)."""

from __future__ import annotations

from chalicelib.clock import clock
from chalicelib.models.catalog import Product
from tests.conftest import Api
from tests.support.shopping import MERCHANT, MERCHANT_2, create_product, sku_ids


def test_merchant_creates_a_product_whose_skus_gain_ids(api: Api) -> None:
    product = create_product(api)
    assert product["merchant_id"] == MERCHANT
    assert [s["attributes"] for s in product["skus"]] == [{"颜色": "黑色"}, {"颜色": "粉色"}]
    assert all(s["sku_id"].startswith("sku_") for s in product["skus"])
    assert product["price_from_fen"] == 2990

    r = api.get(f"/v1/products/{product['product_id']}", as_="u-browser")
    assert r.status_code == 200
    assert r.json["skus"] == product["skus"]
    assert r.json["reviews"] == {"count": 0, "average": None}


def test_review_summary_is_the_mean_of_stored_ratings(api: Api) -> None:
    product = create_product(api)
    Product(product["product_id"]).update(actions=[Product.review_count.set(3), Product.rating_sum.set(13)])
    r = api.get(f"/v1/products/{product['product_id']}", as_="u-browser")
    assert r.json["reviews"] == {"count": 3, "average": 4.3}


def test_a_money_amount_as_float_or_string_is_a_400(api: Api) -> None:
    for price in (29.9, "2990", True):
        body = {"name": "壳", "skus": [{"attributes": {}, "price_fen": price, "stock": 1}]}
        r = api.post("/v1/merchant/products", body, as_=MERCHANT, roles=["merchant"])
        assert r.status_code == 400, price
        assert r.json["code"] == "validation_failed"


def test_only_merchants_create_products(api: Api) -> None:
    body = {"name": "壳", "skus": [{"attributes": {}, "price_fen": 100, "stock": 1}]}
    assert api.post("/v1/merchant/products", body, as_="u-consumer").status_code == 403


def test_two_skus_with_the_same_attributes_are_refused(api: Api) -> None:
    same = {"attributes": {"颜色": "黑色"}, "price_fen": 100, "stock": 1}
    r = api.post("/v1/merchant/products", {"name": "壳", "skus": [same, same]}, as_=MERCHANT, roles=["merchant"])
    assert r.status_code == 422
    assert r.json["code"] == "duplicate_sku"


def test_products_list_newest_first_with_a_cursor_and_a_merchant_filter(api: Api) -> None:
    made = []
    for i in range(3):
        made.append(create_product(api, MERCHANT if i != 1 else MERCHANT_2, name=f"p{i}"))
        clock.advance(1)
    r = api.get("/v1/products?limit=2", as_="u-browser")
    assert [p["name"] for p in r.json["items"]] == ["p2", "p1"]
    r2 = api.get(f"/v1/products?limit=2&cursor={r.json['next_cursor']}", as_="u-browser")
    assert [p["name"] for p in r2.json["items"]] == ["p0"]

    mine = api.get(f"/v1/products?merchant_id={MERCHANT}", as_="u-browser")
    assert [p["name"] for p in mine.json["items"]] == ["p2", "p0"]
    assert mine.json["items"][0]["reviews"] == {"count": 0, "average": None}

    # A cursor is bound to its list.
    other = api.get(f"/v1/products?merchant_id={MERCHANT}&cursor={r.json['next_cursor']}", as_="u-browser")
    assert other.status_code == 400
    assert other.json["code"] == "invalid_cursor"


def test_merchant_edits_prices_stock_and_skus(api: Api) -> None:
    product = create_product(api)
    black, pink = sku_ids(product)
    body = {
        "name": "手机壳 Pro",
        "description": "new",
        "skus": [
            {"sku_id": black, "attributes": {"颜色": "黑色"}, "price_fen": 2500, "stock": 9},
            {"attributes": {"颜色": "蓝色"}, "price_fen": 2700, "stock": 4},
        ],
    }
    r = api.put(f"/v1/merchant/products/{product['product_id']}", body, as_=MERCHANT, roles=["merchant"])
    assert r.status_code == 200, r.json
    assert r.json["name"] == "手机壳 Pro"
    assert r.json["price_from_fen"] == 2500
    skus = {s["attributes"]["颜色"]: s for s in r.json["skus"]}
    assert set(skus) == {"黑色", "蓝色"}  # pink was withdrawn
    assert skus["黑色"]["sku_id"] == black and skus["黑色"]["stock"] == 9
    # A withdrawn SKU cannot go into a cart.
    assert api.put(f"/v1/cart/items/{pink}", {"quantity": 1}, as_="u-1").status_code == 404


def test_another_merchants_product_is_a_404_to_edit(api: Api) -> None:
    product = create_product(api)
    body = {"name": "x", "skus": [{"attributes": {}, "price_fen": 1, "stock": 1}]}
    r = api.put(f"/v1/merchant/products/{product['product_id']}", body, as_=MERCHANT_2, roles=["merchant"])
    assert r.status_code == 404
    assert r.json["code"] == "product_not_found"
    r = api.put("/v1/merchant/products/p_missing", body, as_=MERCHANT_2, roles=["merchant"])
    assert r.status_code == 404


def test_editing_with_a_foreign_sku_id_is_refused(api: Api) -> None:
    mine = create_product(api)
    theirs = create_product(api, MERCHANT_2)
    body = {"name": "x", "skus": [{"sku_id": sku_ids(theirs)[0], "attributes": {}, "price_fen": 1, "stock": 1}]}
    r = api.put(f"/v1/merchant/products/{mine['product_id']}", body, as_=MERCHANT, roles=["merchant"])
    assert r.status_code == 422
    assert r.json["code"] == "unknown_sku"


def test_cart_takes_prices_from_the_server_and_totals_the_selection(api: Api) -> None:
    product = create_product(api)
    black, pink = sku_ids(product)
    r = api.put(f"/v1/cart/items/{black}", {"quantity": 2}, as_="u-1")
    assert r.status_code == 200, r.json
    clock.advance(1)  # lines are listed in the order they were added
    r = api.put(f"/v1/cart/items/{pink}", {"quantity": 1, "selected": False}, as_="u-1")
    cart = r.json
    assert [(i["sku_id"], i["unit_price_fen"], i["line_total_fen"]) for i in cart["items"]] == [
        (black, 2990, 5980),
        (pink, 3290, 3290),
    ]
    assert cart["selected_count"] == 1
    assert cart["selected_total_fen"] == 5980
    # Changing the quantity keeps one line.
    r = api.put(f"/v1/cart/items/{black}", {"quantity": 3}, as_="u-1")
    assert [i["quantity"] for i in r.json["items"]] == [3, 1]
    # Another user's cart is their own.
    assert api.get("/v1/cart", as_="u-2").json["items"] == []


def test_a_client_cannot_send_a_price_for_a_cart_line(api: Api) -> None:
    black = sku_ids(create_product(api))[0]
    r = api.put(f"/v1/cart/items/{black}", {"quantity": 1, "price_fen": 1}, as_="u-1")
    assert r.status_code == 400


def test_cart_refuses_unknown_skus_bad_quantities_and_more_than_the_stock(api: Api) -> None:
    black, pink = sku_ids(create_product(api))
    r = api.put("/v1/cart/items/sku_nope", {"quantity": 1}, as_="u-1")
    assert (r.status_code, r.json["code"]) == (404, "sku_not_found")
    for q in (0, -1, 1.5, "2"):
        r = api.put(f"/v1/cart/items/{black}", {"quantity": q}, as_="u-1")
        assert (r.status_code, r.json["code"]) == (400, "validation_failed"), q
    r = api.put(f"/v1/cart/items/{pink}", {"quantity": 2}, as_="u-1")
    assert (r.status_code, r.json["code"]) == (422, "quantity_exceeds_stock")


def test_removing_a_cart_line(api: Api) -> None:
    black = sku_ids(create_product(api))[0]
    api.put(f"/v1/cart/items/{black}", {"quantity": 1}, as_="u-1")
    assert api.delete(f"/v1/cart/items/{black}", as_="u-1").status_code == 204
    assert api.get("/v1/cart", as_="u-1").json["items"] == []
    r = api.delete(f"/v1/cart/items/{black}", as_="u-1")
    assert (r.status_code, r.json["code"]) == (404, "cart_item_not_found")


def test_openapi_documents_the_catalog_cart_and_order_routes(api: Api) -> None:
    paths = api.get("/v1/openapi.json").json["paths"]
    for path in (
        "/v1/products",
        "/v1/products/{product_id}",
        "/v1/merchant/products",
        "/v1/merchant/products/{product_id}",
        "/v1/cart",
        "/v1/cart/items/{sku_id}",
        "/v1/checkout",
        "/v1/orders",
        "/v1/orders/{order_id}",
        "/v1/orders/{order_id}/confirmation",
        "/v1/orders/{order_id}/cancel",
    ):
        assert path in paths, path
    assert "credit_insufficient" in str(paths["/v1/checkout"]["post"]["responses"]["409"])


def test_seeded_demo_catalog_is_idempotent(api: Api) -> None:
    from chalicelib.local.seed import DEMO_MERCHANT, seed_catalog

    seed_catalog(clock.now())
    seed_catalog(clock.now())
    r = api.get(f"/v1/products?merchant_id={DEMO_MERCHANT}", as_="u-browser")
    assert len(r.json["items"]) == 4
    case = api.get("/v1/products/p_demo_phone_case", as_="u-browser").json
    assert {s["attributes"]["颜色"] for s in case["skus"]} == {"黑色", "粉色", "透明"}
