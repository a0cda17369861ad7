"""An order shows what moved on it (issue 24): its payments, the refunds owed back on it,
what was returned (`refunded_fen`) and the currency; and the buyer hears when a 先用后付
return is done (credit released: no refund will follow)."""

from __future__ import annotations

from chalicelib import schedules
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.models.notifications import Notification
from tests.conftest import Api
from tests.support.amounts import bnpl_order, pay_by_card, receive, return_and_approve, ship
from tests.support.shopping import MERCHANT


def test_payments_refunds_and_returned_value_are_on_the_order(api: Api, activated_user: str) -> None:
    uid = activated_user
    order_id, (a, b) = bnpl_order(api, uid, [5_000, 3_000])
    ship(api, order_id)
    receive(api, uid, order_id)
    fresh = api.get(f"/v1/orders/{order_id}", as_=uid).json
    assert (fresh["payments"], fresh["refunds"], fresh["refunded_fen"]) == ([], [], 0)
    assert fresh["currency"] == settings().rules.currency

    unpaid = return_and_approve(api, uid, order_id, a)  # unpaid: ¥50 of credit released, no refund
    done = [n for n in Notification.query(uid) if n.kind == "return_completed"]
    assert [(n.ref, n.event_id) for n in done] == [(order_id, f"return:{unpaid['request_id']}:completed")]
    assert "¥50.00" in done[0].body and "¥30.00 still due" in done[0].body
    pay_by_card(api, uid, order_id, 3_000)
    paid = return_and_approve(api, uid, order_id, b)  # paid: ¥30 goes back to the card
    assert len([n for n in Notification.query(uid) if n.kind == "return_completed"]) == 1  # the refund notifies

    seen = api.get(f"/v1/orders/{order_id}", as_=uid).json
    assert seen["refunded_fen"] == 8_000
    [payment] = seen["payments"]
    assert (payment["channel"], payment["purpose"], payment["amount_fen"], payment["status"]) == (
        "card",
        "pay_now",
        3_000,
        "succeeded",
    )
    assert payment["card_last4"] and payment["currency"] == seen["currency"]
    [refund] = seen["refunds"]
    assert (refund["reason"], refund["channel"], refund["amount_fen"], refund["status"]) == (
        "return",
        "card",
        3_000,
        "pending",
    )
    assert refund["refund_id"].endswith(paid["request_id"])
    schedules.run("process_refunds", clock.now())
    settled = api.get(f"/v1/orders/{order_id}", as_=uid).json["refunds"][0]
    assert settled["status"] == "succeeded" and settled["settled_at"]
    # The merchant sees the same money, without the buyer's card.
    merchant = api.get(f"/v1/merchant/orders/{order_id}", as_=MERCHANT, roles=["merchant"]).json
    assert merchant["refunds"] == [settled] and merchant["payments"][0]["card_last4"] is None


def test_the_history_names_each_step_and_who_took_it(api: Api, activated_user: str) -> None:
    from tests.support.aftersale import ask, ship_back

    m = {"as_": MERCHANT, "roles": ["merchant"]}

    uid = activated_user
    order_id, _ = bnpl_order(api, uid, [5_000])
    ship(api, order_id)
    receive(api, uid, order_id)
    req = ask(api, uid, order_id, "return_goods")
    decided = api.post(f"/v1/merchant/return-requests/{req['request_id']}/decision", {"decision": "approve"}, **m)
    assert decided.status_code == 200, decided.json
    assert ship_back(api, uid, order_id, req["request_id"]).status_code == 200
    assert api.post(f"/v1/merchant/return-requests/{req['request_id']}/arrival", **m).status_code == 200
    history = api.get(f"/v1/orders/{order_id}", as_=uid).json["history"]
    assert [(h["event"], h["status"]) for h in history] == [
        ("checked_out", "awaiting_confirmation"),
        ("confirmed", "placed"),
        ("shipped", "shipped"),
        ("received", "received"),
        ("return_requested", "return_requested"),
        ("return_approved", "return_requested"),
        ("return_shipped_back", "return_requested"),
        ("return_arrived", "returned"),
    ]
    assert {h["actor"].split(":")[0] for h in history} <= {"user", "merchant", "system"}
    assert [h["actor"] for h in history][-4:] == [
        f"user:{uid}",
        f"merchant:{MERCHANT}",
        f"user:{uid}",
        f"merchant:{MERCHANT}",
    ]
    # A note is the person's own words only: the reason they gave, nothing the system wrote.
    assert [h.get("note") for h in history if h.get("note")] == ["不合适"]
