"""Orders whose amounts matter: 先用后付 or paid by card, shipped, received, returned and approved."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.support.collection import pay
from tests.support.shopping import MERCHANT, checkout, confirm, create_product, sku_ids


def bnpl_order(api: Api, uid: str, prices: list[int], coupon_id: str | None = None) -> tuple[str, list[str]]:
    """A confirmed 先用后付 order of one unit of each price (one SKU each)."""
    product = create_product(
        api, skus=[{"attributes": {"n": str(i)}, "price_fen": p, "stock": 20} for i, p in enumerate(prices)]
    )
    skus = sku_ids(product)
    r = checkout(api, uid, [(s, 1) for s in skus], coupon_id=coupon_id)
    assert r.status_code == 201, r.json
    placed = r.json["orders"][0]
    assert confirm(api, uid, placed).json["status"] == "placed"
    return str(placed["order_id"]), skus


def ship(api: Api, order_id: str) -> None:
    as_merchant(api, f"/v1/merchant/orders/{order_id}/shipment", {"carrier": "SF", "tracking_number": "SF1234567890"})


def receive(api: Api, uid: str, order_id: str) -> None:
    r = api.post(f"/v1/orders/{order_id}/receipt", as_=uid)
    assert r.json["status"] == "received", r.json


def return_and_approve(api: Api, uid: str, order_id: str, sku_id: str | None = None) -> dict[str, Any]:
    request = request_return(api, uid, order_id, sku_id)
    decide(api, request["request_id"])
    return request


def pay_by_card(api: Api, uid: str, order_id: str, amount: int) -> None:
    r = pay(api, uid, order_id, "card")
    assert r.status_code == 201, r.json
    assert (r.json["amount_fen"], r.json["order_status"]) == (amount, "paid")


def as_merchant(api: Api, path: str, body: dict[str, Any]) -> None:
    r = api.post(path, body, as_=MERCHANT, roles=["merchant"])
    assert r.status_code == 200, r.json


def request_return(api: Api, uid: str, order_id: str, sku_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": "不合适"}
    if sku_id:
        body["items"] = [{"sku_id": sku_id, "quantity": 1}]
    r = api.post(f"/v1/orders/{order_id}/return-requests", body, as_=uid)
    assert r.status_code == 201, r.json
    return dict(r.json)


def decide(api: Api, request_id: str, decision: str = "approve") -> None:
    as_merchant(api, f"/v1/merchant/return-requests/{request_id}/decision", {"decision": decision, "note": "已处理"})
