"""Nothing owed is forgotten: every wait an order is in keeps a timer that acts on it.

Regression tests of issue 11 (defects 2, 3, 4, 6): a timer fired while a return request
paused the order, was dropped, and the decision re-armed nothing; the order then owed
money (or waited for receipt) for ever. Each reproduces the scenario over HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import schedules, timers
from chalicelib.clock import clock, parse_iso
from chalicelib.config import settings
from tests.conftest import Api, new_key
from tests.support import channel_sim as sim
from tests.support.collection import attempts, close_windows, order, timers_of, to_the_close, use_card, user
from tests.support.payments import assert_balanced, platform_book
from tests.support.shopping import MERCHANT, checkout, confirm, create_product, stock_of

HALF = 5_000  # two items of ¥50


def two_item_order(api: Api, user_id: str, *, receive: bool = True) -> tuple[str, list[str]]:
    """A 先用后付 order of two ¥50 items, shipped (and received unless told otherwise)."""
    product = create_product(
        api,
        skus=[
            {"attributes": {"款": "A"}, "price_fen": HALF, "stock": 5},
            {"attributes": {"款": "B"}, "price_fen": HALF, "stock": 5},
        ],
    )
    skus = [s["sku_id"] for s in product["skus"]]
    placed = checkout(api, user_id, [(skus[0], 1), (skus[1], 1)])
    assert placed.status_code == 201, placed.json
    o = placed.json["orders"][0]
    assert confirm(api, user_id, o).json["status"] == "placed"
    shipped = api.post(
        f"/v1/merchant/orders/{o['order_id']}/shipment",
        {"carrier": "SF", "tracking_number": "SF1234567890"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert shipped.status_code == 200, shipped.json
    if receive:
        assert api.post(f"/v1/orders/{o['order_id']}/receipt", as_=user_id).json["status"] == "received"
    return str(o["order_id"]), skus


def ask_return(api: Api, user_id: str, order_id: str, sku_id: str | None = None) -> str:
    body: dict[str, Any] = {"reason": "不合适"}
    if sku_id:
        body["items"] = [{"sku_id": sku_id, "quantity": 1}]
    r = api.post(f"/v1/orders/{order_id}/return-requests", body, as_=user_id)
    assert r.status_code == 201, r.json
    return str(r.json["request_id"])


def decide(api: Api, request_id: str, decision: str) -> None:
    r = api.post(
        f"/v1/merchant/return-requests/{request_id}/decision",
        {"decision": decision, "note": "ok"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert r.status_code == 200, r.json


def pay_card(api: Api, user_id: str, order_id: str) -> str:
    r = api.post(f"/v1/orders/{order_id}/payments", {"channel": "card"}, as_=user_id, idem=new_key())
    assert r.status_code == 201, r.json
    return str(r.json["order_status"])


def auto_confirm() -> dict[str, Any]:
    return schedules.run("auto_confirm_receipts", clock.now())


# --- defect 2: a partial return approved after the due date --------------------------------


def test_a_partial_return_approved_after_the_due_date_is_still_collected(api: Api, activated_user: str) -> None:
    order_id, skus = two_item_order(api, activated_user)
    request_id = ask_return(api, activated_user, order_id, skus[0])
    to_the_close(order_id)
    assert close_windows()["not_owed"] == 1  # paused by the request: nothing charged
    decide(api, request_id, "approve")
    assert order(order_id).amount_due_fen == HALF
    result = close_windows()
    assert result["paid"] == 1, result
    [attempt] = attempts(order_id)
    assert int(attempt.amount_fen) == HALF
    assert order(order_id).status == "paid"
    assert user(activated_user).unpaid_bnpl_count == 0
    assert_balanced()


# --- defect 3: a pending charge, then a partial return --------------------------------------


def test_a_pending_charge_for_the_old_amount_is_refunded_and_the_rest_collected(api: Api, activated_user: str) -> None:
    use_card(api, activated_user, "0003")  # times out; the gateway later says it succeeded
    order_id, skus = two_item_order(api, activated_user)
    to_the_close(order_id)
    assert close_windows()["pending"] == 1
    request_id = ask_return(api, activated_user, order_id, skus[0])
    decide(api, request_id, "approve")
    for _ in range(4):  # the old charge is asked about, the new one pends and is asked about
        clock.advance(settings().rules.collection_query_seconds)
        close_windows()
        schedules.run("refund_unapplied_payments", clock.now())
    first, second = attempts(order_id)
    assert (int(first.amount_fen), first.outcome, first.status) == (2 * HALF, "unapplied", "refunded")
    assert (int(second.amount_fen), second.outcome, second.status) == (HALF, "applied", "succeeded")
    assert order(order_id).status == "paid"
    assert platform_book("clearing_card") == HALF
    assert_balanced()


# --- defect 4: an overdue order's retries across a partial return ---------------------------


def test_an_overdue_orders_retries_resume_after_a_partial_return_is_approved(api: Api, activated_user: str) -> None:
    use_card(api, activated_user, "0002")  # declines
    order_id, skus = two_item_order(api, activated_user)
    to_the_close(order_id)
    assert close_windows()["declined"] == 1
    request_id = ask_return(api, activated_user, order_id, skus[0])
    clock.advance(settings().rules.collection_retry_seconds)
    assert close_windows()["not_owed"] == 1  # the retry fell while the request paused it
    decide(api, request_id, "approve")
    assert order(order_id).status == "overdue"
    use_card(api, activated_user, "1111")  # a card that pays
    result = close_windows()
    assert result["retries_processed"] == 1 and result["paid"] == 1, result
    assert int(attempts(order_id)[-1].amount_fen) == HALF
    assert order(order_id).status == "paid"
    assert user(activated_user).bnpl_status == "active"


def test_an_overdue_orders_retries_resume_after_a_return_is_rejected(api: Api, activated_user: str) -> None:
    use_card(api, activated_user, "0002")
    order_id, skus = two_item_order(api, activated_user)
    to_the_close(order_id)
    close_windows()
    request_id = ask_return(api, activated_user, order_id, skus[0])
    clock.advance(settings().rules.collection_retry_seconds)
    close_windows()
    decide(api, request_id, "reject")
    assert close_windows()["retries_processed"] == 1
    assert [t.data for t in timers_of("collection_retry", order_id)] == [{"round": 3}]


# --- defect 6: a shipped order's auto-confirmation across a return request ------------------


def test_a_return_rejected_after_the_auto_confirm_time_still_confirms_receipt(api: Api, activated_user: str) -> None:
    order_id, _ = two_item_order(api, activated_user, receive=False)
    request_id = ask_return(api, activated_user, order_id)
    clock.advance(settings().rules.auto_confirm_receipt_seconds + 60)
    auto_confirm()  # the order waits on the request: not confirmed
    assert order(order_id).status == "return_requested"
    decide(api, request_id, "reject")
    assert order(order_id).status == "shipped"
    assert auto_confirm()["processed"] == 1
    assert order(order_id).status == "received" and order(order_id).due_at is not None
    assert timers_of("payment_due", order_id)


def test_a_partial_return_approved_while_shipped_keeps_the_auto_confirmation(api: Api, activated_user: str) -> None:
    order_id, skus = two_item_order(api, activated_user, receive=False)
    request_id = ask_return(api, activated_user, order_id, skus[0])
    clock.advance(settings().rules.auto_confirm_receipt_seconds + 60)
    auto_confirm()
    decide(api, request_id, "approve")
    assert order(order_id).status == "shipped"
    assert auto_confirm()["processed"] == 1
    assert order(order_id).status == "received" and order(order_id).amount_due_fen == HALF


def test_a_paid_order_rejected_return_still_completes(api: Api, activated_user: str) -> None:
    order_id, skus = two_item_order(api, activated_user)
    assert (
        api.post(f"/v1/orders/{order_id}/payments", {"channel": "card"}, as_=activated_user, idem="pay-0000001").json[
            "order_status"
        ]
        == "paid"
    )
    request_id = ask_return(api, activated_user, order_id, skus[0])
    clock.advance((parse_iso(order(order_id).due_at) - clock.now()).total_seconds() + 60)
    schedules.run("complete_orders", clock.now())
    decide(api, request_id, "reject")
    assert schedules.run("complete_orders", clock.now())["processed"] == 1
    assert order(order_id).status == "completed"


# --- defect 10: a paid channel order can be cancelled before shipment -----------------------


def test_a_card_paid_order_cancelled_before_shipment_is_refunded_in_full(api: Api, activated_user: str) -> None:
    product = create_product(api, skus=[{"attributes": {"款": "A"}, "price_fen": HALF, "stock": 5}])
    sku = product["skus"][0]["sku_id"]
    placed = checkout(api, activated_user, [(sku, 2)], method="card")
    o = placed.json["orders"][0]
    assert confirm(api, activated_user, o).status_code in (200, 201)
    paid = api.post(f"/v1/orders/{o['order_id']}/payments", {"channel": "card"}, as_=activated_user, idem=new_key())
    assert paid.json["order_status"] == "paid", paid.json
    cancelled = api.post(f"/v1/orders/{o['order_id']}/cancel", as_=activated_user)
    assert cancelled.status_code == 200, cancelled.json
    assert cancelled.json["status"] == "cancelled"
    assert stock_of(api, product)[sku] == 5
    assert schedules.run("process_refunds", clock.now())["processed"] == 1
    [attempt] = attempts(o["order_id"])
    assert (attempt.status, int(attempt.refunded_fen)) == ("refunded", 2 * HALF)
    assert platform_book("clearing_card") == 0
    shipped = api.post(
        f"/v1/merchant/orders/{o['order_id']}/shipment",
        {"carrier": "SF", "tracking_number": "SF1234567890"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert shipped.status_code == 409
    assert_balanced()


def test_a_bnpl_order_paid_after_receipt_cannot_be_cancelled(api: Api, activated_user: str) -> None:
    order_id, _ = two_item_order(api, activated_user)
    assert pay_card(api, activated_user, order_id) == "paid"
    r = api.post(f"/v1/orders/{order_id}/cancel", as_=activated_user)
    assert (r.status_code, r.json["code"]) == (409, "illegal_transition")


# --- defect 11: the notification settles a card charge before pay-now does ------------------


def test_pay_now_replays_when_the_notification_lands_during_its_own_settle(
    api: Api, activated_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notification commits between pay-now's read and its transaction: pay-now's
    transaction (which staged the response) fails and is retried as a duplicate."""
    from chalicelib.db import connection
    from chalicelib.services import payments

    order_id, _ = two_item_order(api, activated_user)
    pending: list[Any] = []

    def charged(ref: Any) -> None:
        pending.append(sim.card_notification(ref.attempt_id, ref.amount_fen))

    from chalicelib.channels.card import CardChannel

    charge = CardChannel.charge
    monkeypatch.setattr(CardChannel, "charge", lambda self, ref: (charged(ref), charge(self, ref))[1])

    def deliver_first(params: dict[str, Any], **_: Any) -> None:
        if pending and "idempotency" in str(params.get("TransactItems")):
            body, headers = pending.pop()
            payments.handle_notification("card", headers, body, clock.now())

    client = connection().client
    client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", deliver_first, unique_id="race11")
    try:
        key = new_key()
        first = api.post(f"/v1/orders/{order_id}/payments", {"channel": "card"}, as_=activated_user, idem=key)
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", unique_id="race11")
    assert not pending  # the notification did land mid-way
    assert first.status_code == 201, first.json
    assert first.json["order_status"] == "paid"
    again = api.post(f"/v1/orders/{order_id}/payments", {"channel": "card"}, as_=activated_user, idem=key)
    assert again.status_code == 201, again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json == first.json


# --- the production check: check_obligations ------------------------------------------------


def check() -> dict[str, Any]:
    r = schedules.run("check_obligations", clock.now())
    return dict(r)


def test_the_daily_check_finds_nothing_when_every_obligation_has_its_timer(api: Api, activated_user: str) -> None:
    shipped, _ = two_item_order(api, activated_user, receive=False)
    received, _ = two_item_order(api, activated_user, receive=False)
    use_card(api, activated_user, "0002")
    overdue, _ = two_item_order(api, activated_user)
    to_the_close(overdue)
    close_windows()
    assert api.post(f"/v1/orders/{received}/receipt", as_=activated_user).status_code == 200
    assert {order(i).status for i in (received, shipped, overdue)} == {"received", "shipped", "overdue"}
    assert check() == {"orders": 3, "retries_spent": 0, "without_timer": 0, "complete": 1}


def test_the_daily_check_reports_an_order_whose_timer_is_gone_and_fixes_nothing(
    api: Api, activated_user: str, caplog: pytest.LogCaptureFixture
) -> None:
    from chalicelib.db import Tx

    order_id, _ = two_item_order(api, activated_user)
    healthy, _ = two_item_order(api, activated_user)
    tx = Tx()
    timers.cancel(tx, "payment_due", order_id, order(order_id).due_at)  # what a defect would leave
    tx.commit()
    with caplog.at_level("ERROR"):
        result = check()
    assert result["without_timer"] == 1
    [line] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert line.order_ids == [order_id]  # type: ignore[attr-defined]
    assert healthy not in str(line.__dict__) and activated_user not in str(line.__dict__)
    assert timers_of("payment_due", order_id) == []  # reported, never fixed


def test_orders_that_owe_nothing_leave_the_index(api: Api, activated_user: str) -> None:
    from chalicelib.models.orders import Order

    order_id, skus = two_item_order(api, activated_user)
    assert order(order_id).obligation is not None
    request_id = ask_return(api, activated_user, order_id, skus[0])
    assert order(order_id).obligation is None  # an open after-sale request: not walked
    decide(api, request_id, "approve")
    assert order(order_id).obligation is not None
    assert pay_card(api, activated_user, order_id) == "paid"
    assert order(order_id).obligation is None
    assert list(Order.by_obligation.query(f"obl#{timers.shard_of(order_id):02d}")) == []


def test_the_check_runs_from_the_local_dev_route(api: Api) -> None:
    r = api.post("/v1/dev/jobs/check_obligations")
    assert r.status_code == 200, r.json
    assert r.json["result"]["without_timer"] == 0
