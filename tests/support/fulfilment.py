"""A product, an order placed and confirmed over the API, shipped; the balances it moves (where the
after-sale, payout, privacy and race tests start)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import ledger
from tests.conftest import Api, new_key

MERCHANT = "m-shop"
ADDRESS = {"name": "张三", "phone": "13800138000", "line1": "中关村大街1号", "city": "北京"}


@pytest.fixture
def product(api: Api) -> dict[str, Any]:
    r = api.post(
        "/v1/merchant/products",
        {
            "name": "手机壳",
            "description": "硅胶手机壳",
            "skus": [
                {"attributes": {"colour": "black"}, "price_fen": 3990, "stock": 50},
                {"attributes": {"colour": "pink"}, "price_fen": 2990, "stock": 50},
            ],
        },
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert r.status_code == 201, r.json
    return r.json


def place(api: Api, user: str, product: dict[str, Any], method: str = "bnpl", qty: tuple[int, int] = (1, 0)) -> str:
    items = [{"sku_id": s["sku_id"], "quantity": q} for s, q in zip(product["skus"], qty, strict=True) if q]
    r = api.post(
        "/v1/checkout", {"items": items, "payment_method": method, "address": ADDRESS}, as_=user, idem=new_key()
    )
    assert r.status_code == 201, r.json
    order = r.json["orders"][0]
    c = api.post(
        f"/v1/orders/{order['order_id']}/confirmation",
        {"challenge_id": order["challenge"]["challenge_id"], "password": "135790"},
        as_=user,
        idem=new_key(),
    )
    assert c.status_code in (200, 201), c.json
    return str(order["order_id"])


def ship(api: Api, order_id: str) -> Any:
    return api.post(
        f"/v1/merchant/orders/{order_id}/shipment",
        {"carrier": "SF", "tracking_number": "SF1234567890"},
        as_=MERCHANT,
        roles=["merchant"],
    )


def payable(merchant: str = MERCHANT) -> int:
    b = ledger.balances(ledger.merchant_account(merchant)).get(ledger.PAYABLE)
    return int(b.balance) if b else 0


def credit_used(user: str) -> int:
    return int(ledger.balances(ledger.user_account(user))[ledger.CREDIT].balance)
