"""A product's SKUs say whether they can be bought now (issue 24)."""

from __future__ import annotations

from tests.conftest import Api
from tests.support.shopping import MERCHANT


def test_a_sku_out_of_stock_is_shown_unavailable(api: Api) -> None:
    body = {
        "name": "帆布包",
        "description": "帆布",
        "skus": [
            {"attributes": {"colour": "red"}, "price_fen": 1990, "stock": 3},
            {"attributes": {"colour": "blue"}, "price_fen": 1990, "stock": 0},
        ],
    }
    made = api.post("/v1/merchant/products", body, as_=MERCHANT, roles=["merchant"])
    assert made.status_code == 201, made.json
    seen = api.get(f"/v1/products/{made.json['product_id']}", as_="u-browser").json
    assert [(s["attributes"]["colour"], s["available"]) for s in seen["skus"]] == [("red", True), ("blue", False)]
