"""An order shows what moved on it (issue 24): its payments, the refunds owed back on it,
what was returned (`refunded_fen`) and the currency; and the buyer hears when a 先用后付
return is done (credit released: no refund will follow)."""

from __future__ import annotations

from chalicelib import schedules
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.models.notifications import Notification
from tests.conftest import Api
from tests.shopping import MERCHANT
from tests.test_amounts import bnpl_order, pay_by_card, receive, return_and_approve, ship


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
