"""Three DynamoDB calls for a write (issue 29): the Idempotency-Key is claimed by the effect's
own transaction, and the answer is built from what the write left, never read after it. So
the answer a write gives is what a read shows next, a lost answer on that transaction is
replayed (never stuck `idempotency_in_flight`), and the calls stay within three."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.models.orders import Order
from tests.conftest import Api, new_key
from tests.support.amounts import bnpl_order, receive
from tests.support.amounts import ship as ship_as_merchant
from tests.support.fulfilment import place, product  # noqa: F401 - `product` is a fixture
from tests.support.model_based import Faults
from tests.support.payments import paid_alipay_order
from tests.support.shopping import MERCHANT, dynamodb_calls

AMOUNT = 12_345


def ship(api: Api, order_id: str, merchant: str | None = None) -> Any:
    body = {"carrier": "SF", "tracking_number": "SF1234567890"}
    merchant = merchant or Order.get(order_id).merchant_id
    path = f"/v1/merchant/orders/{order_id}/shipment"
    return api.post(path, body, as_=merchant, roles=["merchant"], idem=new_key())


def test_cancelling_a_paid_order_answers_with_its_refund_as_a_read_shows_it(api: Api) -> None:
    order_id = paid_alipay_order(api)
    with dynamodb_calls() as calls:
        r = api.post(f"/v1/orders/{order_id}/cancel", as_="u-alipay", idem=new_key())
    assert r.status_code == 200, r.json
    assert sum(calls.values()) <= 3, calls
    assert r.json["refunded_fen"] == r.json["total_fen"] and r.json["refunds"][0]["reason"] == "cancellation"
    assert r.json == api.get(f"/v1/orders/{order_id}", as_="u-alipay").json


@pytest.mark.parametrize("method", ["bnpl", "alipay"])
def test_shipment_and_receipt_answer_what_a_read_shows_next(
    api: Api,
    activated_user: str,
    product: Any,  # noqa: F811
    method: str,
) -> None:
    if method == "bnpl":
        order_id, user = place(api, activated_user, product), activated_user
    else:
        order_id, user = paid_alipay_order(api), "u-alipay"
    merchant = Order.get(order_id).merchant_id
    view = f"/v1/merchant/orders/{order_id}"
    assert api.get(view, as_=merchant, roles=["merchant"]).status_code == 200  # the merchant's account seen open
    with dynamodb_calls() as calls:
        shipped = ship(api, order_id, merchant)
    assert shipped.status_code == 200, shipped.json
    assert sum(calls.values()) <= 3, calls
    assert shipped.json == api.get(view, as_=merchant, roles=["merchant"]).json
    with dynamodb_calls() as calls:
        r = api.post(f"/v1/orders/{order_id}/receipt", as_=user, idem=new_key())
    assert r.status_code == 200, r.json
    assert sum(calls.values()) <= 3, calls
    assert r.json["status"] == "received" and r.json["received_at"]
    assert r.json == api.get(f"/v1/orders/{order_id}", as_=user).json


def test_a_lost_answer_on_the_receipt_is_replayed_not_redone(
    api: Api,
    activated_user: str,
    product: Any,  # noqa: F811
    faults: Faults,
) -> None:
    """Regression: the claim was its own write and the answer another; a retry after a lost
    answer redid the effect's checks (409 `illegal_transition`), and a lost answer on the
    finishing write left the key `idempotency_in_flight` until its lock expired."""
    order_id = place(api, activated_user, product)
    assert ship(api, order_id).status_code == 200
    key = new_key()
    faults.arm([(0, "lost_answer")], only="TransactWriteItems")
    first = api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user, idem=key)
    faults.enabled = False
    assert first.status_code == 503 and faults.injected["lost_answer"] == 1
    again = api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user, idem=key)
    assert again.status_code == 200, again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json == api.get(f"/v1/orders/{order_id}", as_=activated_user).json


def test_a_lost_answer_on_an_address_edit_is_replayed(api: Api, faults: Faults) -> None:
    home = {"name": "张三", "phone": "13800138000", "line1": "朝阳区建国路 1 号", "city": "北京"}
    added = api.post("/v1/me/addresses", home, as_="u-addr", idem=new_key())
    assert added.status_code == 201, added.json
    path, key = f"/v1/me/addresses/{added.json['address_id']}", new_key()
    faults.arm([(0, "lost_answer")], only="TransactWriteItems")
    first = api.put(path, {**home, "city": "上海"}, as_="u-addr", idem=key)
    faults.enabled = False
    assert first.status_code == 503
    again = api.put(path, {**home, "city": "上海"}, as_="u-addr", idem=key)
    assert (again.status_code, again.json["city"]) == (200, "上海"), again.json
    assert again.headers.get("Idempotent-Replayed") == "true"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/v1/me/payment-password", {"password": "135790"}),
        ("POST", "/v1/me/addresses", {"name": "张三", "phone": "13800138000", "line1": "建国路 1 号", "city": "北京"}),
    ],
)
def test_a_write_takes_at_most_three_calls(api: Api, method: str, path: str, body: dict[str, Any]) -> None:
    assert api.get("/v1/me", as_="u-calls").status_code == 200  # the profile exists (made on first sight)
    with dynamodb_calls() as calls:
        r = api.call(method, path, json_body=body, as_="u-calls", idem=new_key())
    assert r.status_code < 300, r.json
    assert sum(calls.values()) <= 3, calls


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_return_request_and_its_decision_answer_what_a_read_shows(
    api: Api, activated_user: str, decision: str
) -> None:
    uid = activated_user
    order_id, (sku, _) = bnpl_order(api, uid, [5_000, 3_000])
    ship_as_merchant(api, order_id)
    receive(api, uid, order_id)
    with dynamodb_calls() as calls:
        asked = api.post(
            f"/v1/orders/{order_id}/return-requests",
            {"reason": "不合适", "items": [{"sku_id": sku, "quantity": 1}]},
            as_=uid,
            idem=new_key(),
        )
    assert asked.status_code == 201, asked.json
    assert sum(calls.values()) <= 3, calls
    path = f"/v1/merchant/return-requests/{asked.json['request_id']}/decision"
    with dynamodb_calls() as calls:
        decided = api.post(
            path, {"decision": decision, "note": "已处理"}, as_=MERCHANT, roles=["merchant"], idem=new_key()
        )
    assert decided.status_code == 200, decided.json
    assert sum(calls.values()) <= 3, calls
    [seen] = api.get(f"/v1/orders/{order_id}/return-requests", as_=uid).json["items"]
    assert decided.json == seen and decided.json["status"] == ("approved" if decision == "approve" else "rejected")
    assert decided.json["note"] == "已处理" and decided.json["decided_at"]


def test_a_lost_answer_on_a_claims_finishing_write_leaves_no_key_in_flight(api: Api, faults: Faults) -> None:
    """Regression: a route whose claim is its own write (creating a product) stores its answer
    with a second one; that write's answer lost left the key `idempotency_in_flight` until its
    lock expired. It is tried again (conditional on the claim still in flight)."""
    body = {"name": "手机壳", "skus": [{"attributes": {}, "price_fen": 990, "stock": 5}]}
    key = new_key()
    faults.arm([(0, "lost_answer")], only="UpdateItem")
    first = api.post("/v1/merchant/products", body, as_=MERCHANT, roles=["merchant"], idem=key)
    faults.enabled = False
    assert faults.injected["lost_answer"] == 1
    assert first.status_code == 201, first.json
    again = api.post("/v1/merchant/products", body, as_=MERCHANT, roles=["merchant"], idem=key)
    assert (again.status_code, again.json) == (201, first.json)
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_shipping_goods_back_and_their_arrival_answer_what_a_read_shows(api: Api, activated_user: str) -> None:
    uid = activated_user
    order_id, (sku, _) = bnpl_order(api, uid, [5_000, 3_000])
    ship_as_merchant(api, order_id)
    receive(api, uid, order_id)
    body = {"reason": "不合适", "kind": "return_goods", "items": [{"sku_id": sku, "quantity": 1}]}
    request_id = api.post(f"/v1/orders/{order_id}/return-requests", body, as_=uid).json["request_id"]
    approve = {"decision": "approve", "note": "请寄回"}
    merchant = {"as_": MERCHANT, "roles": ["merchant"]}
    assert api.post(f"/v1/merchant/return-requests/{request_id}/decision", approve, **merchant).status_code == 200
    parcel = {"carrier": "SF", "tracking_number": "SF9876543210"}
    with dynamodb_calls() as calls:
        shipped = api.post(
            f"/v1/orders/{order_id}/return-requests/{request_id}/shipment", parcel, as_=uid, idem=new_key()
        )
    assert shipped.status_code == 200, shipped.json
    assert sum(calls.values()) <= 3, calls
    assert shipped.json == api.get(f"/v1/orders/{order_id}/return-requests", as_=uid).json["items"][0]
    with dynamodb_calls() as calls:
        arrived = api.post(f"/v1/merchant/return-requests/{request_id}/arrival", **merchant, idem=new_key())
    assert arrived.status_code == 200, arrived.json
    assert sum(calls.values()) <= 3, calls
    assert arrived.json["status"] == "refunded" and arrived.json["arrived_at"]
    assert arrived.json == api.get(f"/v1/orders/{order_id}/return-requests", as_=uid).json["items"][0]
