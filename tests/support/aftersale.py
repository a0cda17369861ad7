"""After-sale over the API: a received order, a return asked and decided, the goods shipped back, disputes escalated."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import schedules
from chalicelib.clock import clock
from chalicelib.config import settings
from tests.conftest import Api
from tests.support.fulfilment import MERCHANT, place, ship

SUPPORT = "s-agent"
M = {"as_": MERCHANT, "roles": ["merchant"]}
S = {"as_": SUPPORT, "roles": ["support"]}


def rules() -> Any:
    return settings().rules


def advance() -> dict[str, int]:
    return schedules.run("advance_aftersale", clock.now())


@pytest.fixture
def received(api: Api, activated_user: str, product: dict[str, Any]) -> str:
    order_id = place(api, activated_user, product, qty=(2, 1))
    assert ship(api, order_id).status_code == 200
    assert api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user).status_code == 200
    return order_id


def ask(api: Api, user: str, order_id: str, kind: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": "不合适"}
    if kind:
        body["kind"] = kind
    r = api.post(f"/v1/orders/{order_id}/return-requests", body, as_=user)
    assert r.status_code == 201, r.json
    return dict(r.json)


def decide(api: Api, request_id: str, decision: str) -> Any:
    return api.post(f"/v1/merchant/return-requests/{request_id}/decision", {"decision": decision, "note": ""}, **M)


def ship_back(api: Api, user: str, order_id: str, request_id: str) -> Any:
    body = {"carrier": "SF", "tracking_number": "SF9876543210"}
    return api.post(f"/v1/orders/{order_id}/return-requests/{request_id}/shipment", body, as_=user)


def escalate(api: Api, user: str, order_id: str) -> Any:
    return api.post(f"/v1/orders/{order_id}/disputes", {"reason": "商品有质量问题"}, as_=user)


def rejected(api: Api, user: str, order_id: str) -> dict[str, Any]:
    req = ask(api, user, order_id, "return_goods")
    body = {"decision": "reject", "note": "不支持"}
    r = api.post(f"/v1/merchant/return-requests/{req['request_id']}/decision", body, **M)
    assert r.status_code == 200, r.json
    return req


@pytest.fixture
def tees(api: Api) -> dict[str, Any]:
    body = {
        "name": "T恤",
        "description": "纯棉",
        "skus": [
            {"attributes": {"尺码": "M"}, "price_fen": 5990, "stock": 10},
            {"attributes": {"尺码": "L"}, "price_fen": 5990, "stock": 10},
            {"attributes": {"尺码": "XL"}, "price_fen": 6990, "stock": 10},
        ],
    }
    r = api.post("/v1/merchant/products", body, **M)
    assert r.status_code == 201, r.json
    return dict(r.json)


def stock(api: Api, product: dict[str, Any]) -> list[int]:
    skus = api.get(f"/v1/products/{product['product_id']}", **M).json["skus"]
    return [int(s["stock"]) for s in skus]


def exchange_for(api: Api, user: str, order_id: str, sku: str, to: str) -> Any:
    body = {"reason": "换个尺码", "kind": "exchange", "items": [{"sku_id": sku, "quantity": 1, "to_sku_id": to}]}
    return api.post(f"/v1/orders/{order_id}/return-requests", body, as_=user)


def exchanged_goods_back(api: Api, user: str, tees: dict[str, Any]) -> tuple[str, str]:
    """A received order of one M tee, exchanged for an L: the M is back at the merchant."""
    m, lg, _ = (s["sku_id"] for s in tees["skus"])
    order_id = place(api, user, tees, qty=(1, 0, 0))  # type: ignore[arg-type]
    ship(api, order_id)
    api.post(f"/v1/orders/{order_id}/receipt", as_=user)
    request_id = exchange_for(api, user, order_id, m, lg).json["request_id"]
    decide(api, request_id, "approve")
    ship_back(api, user, order_id, request_id)
    assert api.post(f"/v1/merchant/return-requests/{request_id}/arrival", **M).json["status"] == "awaiting_reshipment"
    return order_id, request_id
