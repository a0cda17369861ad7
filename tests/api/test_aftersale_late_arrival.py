"""Goods a dispute refunded while they travelled back: when they arrive, the merchant confirms
it, they go back to stock, and no money moves a second time (SPEC "Account closure and
after-sale limits": goods that come back return to their SKU's stock)."""

from __future__ import annotations

from typing import Any

from chalicelib import ledger
from chalicelib.clock import clock
from tests.conftest import Api, new_key
from tests.support.aftersale import M, S, advance, decide, escalate, rules, ship_back, stock
from tests.support.aftersale import tees as tees  # noqa: F401  (the fixture)
from tests.support.fulfilment import MERCHANT, place, ship


def books(user: str) -> dict[str, int]:
    """Every balance a refund moves: the buyer's (credit, cash, points) and the merchant's."""
    found: dict[str, int] = {}
    for account in (ledger.user_account(user), ledger.merchant_account(MERCHANT)):
        for book, balance in ledger.balances(account).items():
            found[f"{account}:{book}"] = int(balance.balance)
    return found


def refunded_while_travelling(api: Api, user: str, tees: dict[str, Any], qty: tuple[int, int, int]) -> tuple[str, str]:
    """A received order; the buyer returns one M tee and ships it back; the merchant never
    confirms it arrived; the buyer escalates once that wait has run out; support refunds."""
    order_id = place(api, user, tees, qty=qty)  # type: ignore[arg-type]
    ship(api, order_id)
    assert api.post(f"/v1/orders/{order_id}/receipt", as_=user).status_code == 200
    body = {"reason": "不合适", "kind": "return_goods", "items": [{"sku_id": tees["skus"][0]["sku_id"], "quantity": 1}]}
    request_id = api.post(f"/v1/orders/{order_id}/return-requests", body, as_=user).json["request_id"]
    assert decide(api, request_id, "approve").status_code == 200
    assert ship_back(api, user, order_id, request_id).status_code == 200
    clock.advance(rules().aftersale_arrival_seconds + 1)
    dispute = escalate(api, user, order_id)
    assert dispute.status_code == 201, dispute.json
    decision = f"/v1/support/disputes/{dispute.json['dispute_id']}/decision"
    assert api.post(decision, {"decision": "refund"}, idem=new_key(), **S).status_code == 200
    return order_id, request_id


def test_goods_a_dispute_refunded_on_their_way_back_go_back_to_stock_when_they_arrive(
    api: Api, activated_user: str, tees: dict[str, Any]
) -> None:
    order_id, request_id = refunded_while_travelling(api, activated_user, tees, (1, 0, 0))
    assert api.get(f"/v1/orders/{order_id}", as_=activated_user).json["status"] == "returned"
    assert stock(api, tees) == [9, 10, 10]  # refunded, still on the road
    money = books(activated_user)
    arrived = api.post(f"/v1/merchant/return-requests/{request_id}/arrival", idem=new_key(), **M)
    assert arrived.status_code == 200, arrived.json
    assert arrived.json["status"] == "refunded" and arrived.json["arrived_at"], arrived.json
    assert stock(api, tees) == [10, 10, 10]
    assert books(activated_user) == money  # the refund happened once, at the decision
    order = api.get(f"/v1/orders/{order_id}", as_=activated_user).json
    assert order["status"] == "returned" and order["history"][-1]["event"] == "return_arrived", order["history"][-1]
    again = api.post(f"/v1/merchant/return-requests/{request_id}/arrival", idem=new_key(), **M)
    assert (again.status_code, again.json["code"]) == (409, "illegal_transition")
    assert stock(api, tees) == [10, 10, 10]
    assert advance()["processed"] == 0


def test_a_partly_returned_order_keeps_its_status_when_the_refunded_goods_arrive(
    api: Api, activated_user: str, tees: dict[str, Any]
) -> None:
    order_id, request_id = refunded_while_travelling(api, activated_user, tees, (1, 1, 0))
    before = api.get(f"/v1/orders/{order_id}", as_=activated_user).json
    assert before["status"] == "received"
    money = books(activated_user)
    arrived = api.post(f"/v1/merchant/return-requests/{request_id}/arrival", **M)
    assert arrived.status_code == 200, arrived.json
    after = api.get(f"/v1/orders/{order_id}", as_=activated_user).json
    assert (after["status"], after["amount_due_fen"], after["due_at"]) == (
        before["status"],
        before["amount_due_fen"],
        before["due_at"],
    )
    assert stock(api, tees) == [10, 9, 10] and books(activated_user) == money


def test_a_refund_only_request_refunded_by_a_dispute_has_nothing_to_arrive(
    api: Api, activated_user: str, tees: dict[str, Any]
) -> None:
    order_id = place(api, activated_user, tees, qty=(1, 0, 0))  # type: ignore[arg-type]
    ship(api, order_id)
    api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user)
    body = {"reason": "不合适", "kind": "refund_only"}
    request_id = api.post(f"/v1/orders/{order_id}/return-requests", body, as_=activated_user).json["request_id"]
    decide(api, request_id, "reject")
    dispute = escalate(api, activated_user, order_id).json["dispute_id"]
    api.post(f"/v1/support/disputes/{dispute}/decision", {"decision": "refund"}, idem=new_key(), **S)
    r = api.post(f"/v1/merchant/return-requests/{request_id}/arrival", **M)
    assert (r.status_code, r.json["code"]) == (409, "illegal_transition")
    assert stock(api, tees) == [9, 10, 10]
