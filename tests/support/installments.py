"""Installment stories (tests/api/test_installments.py, test_bill_payments.py): a quote, an
order bought in parts and received, its schedule, the clock moved to its part's due date."""

from __future__ import annotations

from typing import Any

from chalicelib.clock import clock, parse_iso
from chalicelib.models.orders import Order
from chalicelib.services.installments.arithmetic import CHINA
from tests.conftest import Api, new_key
from tests.support.shopping import ADDRESS, MERCHANT, confirm, create_product

PRICE = 30_000  # ¥300: eligible (≥ ¥100)


def plans_of(api: Api, user: str, amount: int, product_id: str | None = None) -> dict[int, dict[str, Any]]:
    query = f"?amount_fen={amount}" + (f"&product_id={product_id}" if product_id else "")
    r = api.get(f"/v1/bnpl/plans{query}", as_=user)
    assert r.status_code == 200, r.json
    return {p["parts"]: p for p in r.json["plans"]}


def buy_in_parts(api: Api, user: str, parts: int = 3, price: int = PRICE, product: dict[str, Any] | None = None) -> Any:
    """Check out one item in `parts` parts with the quote's checksum (the response)."""
    product = product or create_product(api, skus=[{"attributes": {"规格": "标准"}, "price_fen": price, "stock": 20}])
    quote = plans_of(api, user, price, product["product_id"])[parts]
    body = {
        "items": [{"sku_id": product["skus"][0]["sku_id"], "quantity": 1}],
        "payment_method": "bnpl",
        "address": ADDRESS,
        "installments": {"parts": parts, "schedule_checksum": quote["schedule_checksum"]},
    }
    return api.post("/v1/checkout", body, as_=user, idem=new_key())


def received_in_parts(api: Api, user: str, parts: int = 3, **kw: Any) -> str:
    placed = buy_in_parts(api, user, parts, **kw)
    assert placed.status_code == 201, placed.json
    order = placed.json["orders"][0]
    assert confirm(api, user, order).json["status"] == "placed"
    oid = order["order_id"]
    shipped = api.post(
        f"/v1/merchant/orders/{oid}/shipment",
        {"carrier": "SF", "tracking_number": "SF1234567890"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert shipped.status_code == 200, shipped.json
    assert api.post(f"/v1/orders/{oid}/receipt", as_=user).json["status"] == "received"
    return str(oid)


def schedule_of(api: Api, user: str, order_id: str) -> dict[str, Any]:
    r = api.get(f"/v1/orders/{order_id}/installments", as_=user)
    assert r.status_code == 200, r.json
    return dict(r.json)


def to_due(order_id: str, extra: int = 60) -> None:
    due = parse_iso(Order.get(order_id, consistent_read=True).due_at)
    clock.advance((due - clock.now()).total_seconds() + extra)


def china_month(at: str) -> str:
    return parse_iso(at).astimezone(CHINA).strftime("%Y-%m")


def return_and_approve(api: Api, user: str, order_id: str, quantity: int | None = None) -> None:
    """Ask to return `quantity` of the order's first item (None: every item whole); approved."""
    items = api.get(f"/v1/orders/{order_id}", as_=user).json["items"]
    lines = [{"sku_id": i["sku_id"], "quantity": i["quantity"]} for i in items]
    if quantity is not None:
        lines = [{"sku_id": items[0]["sku_id"], "quantity": quantity}]
    asked = api.post(f"/v1/orders/{order_id}/return-requests", {"reason": "不想要了", "items": lines}, as_=user)
    assert asked.status_code == 201, asked.json
    decided = api.post(
        f"/v1/merchant/return-requests/{asked.json['request_id']}/decision",
        {"decision": "approve", "note": "好的"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert decided.status_code == 200, decided.json
