"""After-sale (SPEC "After-sale, payouts and privacy"): return kinds, the goods' way back,
the after-sale timers and disputes (平台介入) decided by support."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib import schedules, timers
from chalicelib.clock import clock
from chalicelib.models.notifications import Notification
from chalicelib.models.orders import Order
from chalicelib.models.timers import Timer
from tests.conftest import Api, new_key
from tests.support.aftersale import (
    M,
    S,
    advance,
    ask,
    decide,
    escalate,
    exchange_for,
    exchanged_goods_back,
    rejected,
    rules,
    ship_back,
    stock,
)
from tests.support.aftersale import received as received  # noqa: F401  (the fixture)
from tests.support.aftersale import tees as tees  # noqa: F401  (the fixture)
from tests.support.fulfilment import MERCHANT, credit_used, payable, place, ship
from tests.support.fulfilment import product as product  # noqa: F401  (the fixture)


def kinds(user: str) -> set[str]:
    return {n.kind for n in Notification.query(user)}


def order_of(api: Api, user: str, order_id: str) -> dict[str, Any]:
    return dict(api.get(f"/v1/orders/{order_id}", as_=user).json)


def charges(order_id: str) -> list[Timer]:
    return [t for t in timers.live(order_id) if t.kind in (timers.PAYMENT_DUE, timers.COLLECTION_RETRY)]


# --- return_goods ---------------------------------------------------------------------------------


def test_return_goods_refunds_when_the_merchant_confirms_arrival(api: Api, activated_user: str, received: str) -> None:
    owed = payable()
    req = ask(api, activated_user, received, "return_goods")
    assert req["kind"] == "return_goods" and req["status"] == "pending"
    d = decide(api, req["request_id"], "approve")
    assert d.status_code == 200 and d.json["status"] == "awaiting_return", d.json
    # Approval alone gives nothing back: the goods must come back first.
    assert credit_used(activated_user) == 2 * 3990 + 2990 and payable() == owed
    assert order_of(api, activated_user, received)["status"] == "return_requested"
    early = api.post(f"/v1/merchant/return-requests/{req['request_id']}/arrival", **M)
    assert early.status_code == 409
    s = ship_back(api, activated_user, received, req["request_id"])
    assert s.status_code == 200 and s.json["status"] == "returning" and s.json["return_carrier"] == "SF", s.json
    # The app finds its requests again from the order (after a restart, say): newest first.
    listed = api.get(f"/v1/orders/{received}/return-requests", as_=activated_user)
    assert listed.status_code == 200 and listed.json["items"] == [s.json], listed.json
    assert api.get(f"/v1/orders/{received}/return-requests", as_="u-stranger").status_code == 404
    assert ship_back(api, activated_user, received, req["request_id"]).status_code == 409
    a = api.post(f"/v1/merchant/return-requests/{req['request_id']}/arrival", **M)
    assert a.status_code == 200 and a.json["status"] == "refunded" and a.json["arrived_at"], a.json
    assert order_of(api, activated_user, received)["status"] == "returned"
    assert credit_used(activated_user) == 0 and payable() == 0
    assert api.post(f"/v1/merchant/return-requests/{req['request_id']}/arrival", **M).status_code == 409
    assert not [t for t in timers.live(received) if t.kind in timers.AFTERSALE]
    # Each side heard of each step the other took.
    assert kinds(MERCHANT) >= {"return_requested", "return_shipped_back"}
    assert kinds(activated_user) >= {"order_shipped", "return_answered"}


def test_after_sale_steps_replay_with_an_idempotency_key(api: Api, activated_user: str, received: str) -> None:
    """Money-moving after-sale POSTs take an Idempotency-Key (SPEC): the same key and body
    replays the first answer; another body is a 422. Without a key they answer afresh."""
    asked_key = new_key()
    body = {"reason": "不合适", "kind": "return_goods"}
    path = f"/v1/orders/{received}/return-requests"
    first = api.post(path, body, as_=activated_user, idem=asked_key)
    again = api.post(path, body, as_=activated_user, idem=asked_key)
    assert first.status_code == again.status_code == 201 and again.json == first.json, again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert api.post(path, body, as_=activated_user).json["code"] == "return_already_pending"
    request_id = first.json["request_id"]
    decision = f"/v1/merchant/return-requests/{request_id}/decision"
    key = new_key()
    approved = api.post(decision, {"decision": "approve", "note": ""}, idem=key, **M)
    replay = api.post(decision, {"decision": "approve", "note": ""}, idem=key, **M)
    assert replay.json == approved.json and replay.headers.get("Idempotent-Replayed") == "true"
    other = api.post(decision, {"decision": "reject", "note": ""}, idem=key, **M)
    assert (other.status_code, other.json["code"]) == (422, "idempotency_key_reused")
    ship_back(api, activated_user, received, request_id)
    key = new_key()
    arrival = f"/v1/merchant/return-requests/{request_id}/arrival"
    refunded = api.post(arrival, idem=key, **M)
    assert refunded.json["status"] == "refunded"
    assert api.post(arrival, idem=key, **M).json == refunded.json  # not a 409: the same answer
    assert api.post(arrival, **M).status_code == 409
    assert credit_used(activated_user) == 0


def test_only_the_order_owner_ships_back_and_only_its_merchant_confirms(
    api: Api, activated_user: str, received: str
) -> None:
    req = ask(api, activated_user, received, "return_goods")
    decide(api, req["request_id"], "approve")
    assert ship_back(api, "u-stranger", received, req["request_id"]).status_code == 404
    ship_back(api, activated_user, received, req["request_id"])
    other = api.post(f"/v1/merchant/return-requests/{req['request_id']}/arrival", as_="m-other", roles=["merchant"])
    assert other.status_code == 404


def test_refund_only_is_still_the_default(api: Api, activated_user: str, received: str) -> None:
    req = ask(api, activated_user, received)
    assert req["kind"] == "refund_only"
    assert decide(api, req["request_id"], "approve").json["status"] == "approved"
    assert credit_used(activated_user) == 0


# --- the timers -----------------------------------------------------------------------------------


def test_a_request_the_merchant_leaves_unanswered_is_approved_after_48_hours(
    api: Api, activated_user: str, received: str
) -> None:
    req = ask(api, activated_user, received)
    clock.advance(rules().aftersale_answer_seconds - 60)
    assert advance()["processed"] == 0
    clock.advance(120)
    assert advance()["processed"] == 1
    assert advance()["processed"] == 0
    assert order_of(api, activated_user, received)["status"] == "returned"
    listed = api.get("/v1/merchant/return-requests", **M).json["items"]
    assert [x["status"] for x in listed if x["request_id"] == req["request_id"]] == ["approved"]


def test_an_answer_in_time_cancels_the_timer(api: Api, activated_user: str, received: str) -> None:
    req = ask(api, activated_user, received)
    decide(api, req["request_id"], "reject")
    clock.advance(rules().aftersale_answer_seconds + 1)
    assert advance() == {"processed": 0, "skipped": 0, "failed": 0, "complete": 1}


def test_goods_not_shipped_back_close_the_request_and_collection_resumes_on_its_due_date(
    api: Api, activated_user: str, received: str
) -> None:
    due_at = order_of(api, activated_user, received)["due_at"]
    req = ask(api, activated_user, received, "return_goods")
    decide(api, req["request_id"], "approve")
    # The window's close passes while the request is open: no debit, never overdue.
    clock.advance(rules().payment_window_seconds + 60)
    schedules.run("close_payment_windows", clock.now())
    order = order_of(api, activated_user, received)
    assert order["status"] == "return_requested" and order["collection_attempts"] == 0
    clock.advance(rules().aftersale_ship_back_seconds)
    assert advance()["processed"] == 1
    order = order_of(api, activated_user, received)
    assert order["status"] == "received" and order["due_at"] == due_at
    listed = api.get("/v1/merchant/return-requests?status=closed", **M).json["items"]
    assert [x["request_id"] for x in listed] == [req["request_id"]]
    # Collection resumes at the due date it always had (already past: at the next run).
    assert [t.due_at for t in charges(received)] == [due_at]
    schedules.run("close_payment_windows", clock.now())
    assert order_of(api, activated_user, received)["status"] == "paid"


def test_arrival_not_confirmed_in_ten_days_refunds_for_the_merchant(
    api: Api, activated_user: str, received: str
) -> None:
    req = ask(api, activated_user, received, "return_goods")
    decide(api, req["request_id"], "approve")
    clock.advance(3600)
    ship_back(api, activated_user, received, req["request_id"])
    clock.advance(rules().aftersale_arrival_seconds - 60)
    assert advance()["processed"] == 0
    clock.advance(120)
    assert advance()["processed"] == 1
    assert order_of(api, activated_user, received)["status"] == "returned"
    assert credit_used(activated_user) == 0 and payable() == 0


def test_the_order_needs_exactly_the_timer_of_its_wait(api: Api, activated_user: str, received: str) -> None:
    from chalicelib.services.orders import obligations

    req = ask(api, activated_user, received, "return_goods")
    order = Order.get(received, consistent_read=True)
    assert [n.kind for n in obligations.needed(order)] == [timers.AFTERSALE_ANSWER]
    decide(api, req["request_id"], "approve")
    order = Order.get(received, consistent_read=True)
    assert [n.kind for n in obligations.needed(order)] == [timers.AFTERSALE_SHIP_BACK]
    kinds = {t.kind for t in timers.live(received)}
    assert timers.AFTERSALE_SHIP_BACK in kinds and timers.AFTERSALE_ANSWER not in kinds


# --- disputes -------------------------------------------------------------------------------------


def test_support_refunds_a_rejected_return_and_takes_it_back_from_the_merchant(
    api: Api, activated_user: str, received: str
) -> None:
    assert escalate(api, activated_user, received).json["code"] == "not_escalable"
    req = rejected(api, activated_user, received)
    api.post(f"/v1/orders/{received}/messages", {"text": "质量问题"}, as_=activated_user)
    e = escalate(api, activated_user, received)
    assert e.status_code == 201 and e.json["status"] == "open" and e.json["request_id"] == req["request_id"], e.json
    dispute_id = e.json["dispute_id"]
    assert escalate(api, activated_user, received).json["code"] == "dispute_already_open"
    assert order_of(api, activated_user, received)["status"] == "return_requested"
    assert [d["dispute_id"] for d in api.get(f"/v1/orders/{received}/disputes", as_=activated_user).json["items"]] == [
        dispute_id
    ]
    queue = api.get("/v1/support/disputes", **S)
    assert queue.status_code == 200 and [d["dispute_id"] for d in queue.json["items"]] == [dispute_id]
    case = api.get(f"/v1/support/disputes/{dispute_id}", **S).json
    assert case["order"]["order_id"] == received and case["order"]["history"]
    assert case["order"]["shipment"]["tracking_number"] and case["order"]["challenge"] is None
    assert [r["request_id"] for r in case["return_requests"]] == [req["request_id"]]
    assert [m["text"] for m in case["messages"]] == ["质量问题"]
    # Support can also look the order up by its id: the same case, with every dispute.
    looked_up = api.get(f"/v1/support/orders/{received}", **S)
    assert looked_up.status_code == 200, looked_up.json
    assert [d["dispute_id"] for d in looked_up.json["disputes"]] == [dispute_id]
    assert {k: looked_up.json[k] for k in ("order", "return_requests", "messages")} == {
        k: case[k] for k in ("order", "return_requests", "messages")
    }
    assert api.get("/v1/support/orders/o_missing", **S).json["code"] == "order_not_found"
    # Nobody decides their own case (the buyer, or the merchant, holding the support role).
    own = api.post(
        f"/v1/support/disputes/{dispute_id}/decision",
        {"decision": "refund"},
        as_=activated_user,
        roles=["support"],
        idem=new_key(),
    )
    assert own.status_code == 403 and own.json["code"] == "own_case"
    key = new_key()
    body = {"decision": "refund", "note": "质量问题属实"}
    d = api.post(f"/v1/support/disputes/{dispute_id}/decision", body, idem=key, **S)
    assert d.status_code == 200 and d.json["status"] == "refunded", d.json
    replay = api.post(f"/v1/support/disputes/{dispute_id}/decision", body, idem=key, **S)
    assert replay.json == d.json and replay.headers.get("Idempotent-Replayed") == "true"
    again = api.post(f"/v1/support/disputes/{dispute_id}/decision", {"decision": "reject"}, idem=new_key(), **S)
    assert again.status_code == 409
    assert order_of(api, activated_user, received)["status"] == "returned"
    assert credit_used(activated_user) == 0 and payable() == 0
    # The request keeps the merchant's answer; support's note is the dispute's.
    [request_now] = api.get(f"/v1/orders/{received}/return-requests", as_=activated_user).json["items"]
    assert (request_now["status"], request_now["note"]) == ("refunded", "不支持")
    for who, roles in ((activated_user, ["consumer"]), (MERCHANT, ["merchant"])):
        kinds = [n["kind"] for n in api.get("/v1/me/notifications", as_=who, roles=roles).json["items"]]
        assert "dispute_decided" in kinds, (who, kinds)
    assert api.get("/v1/support/disputes", **S).json["items"] == []
    assert [x["dispute_id"] for x in api.get("/v1/support/disputes?status=refunded", **S).json["items"]] == [dispute_id]


def test_a_rejected_dispute_resumes_collection_and_cannot_be_escalated_again(
    api: Api, activated_user: str, received: str
) -> None:
    rejected(api, activated_user, received)
    dispute_id = escalate(api, activated_user, received).json["dispute_id"]
    clock.advance(rules().payment_window_seconds + 60)
    schedules.run("close_payment_windows", clock.now())  # paused: the sweep drops its timer
    assert order_of(api, activated_user, received)["collection_attempts"] == 0 and not charges(received)
    d = api.post(f"/v1/support/disputes/{dispute_id}/decision", {"decision": "reject"}, idem=new_key(), **S)
    assert d.status_code == 200 and d.json["status"] == "rejected"
    order = order_of(api, activated_user, received)
    assert order["status"] == "received" and [t.due_at for t in charges(received)] == [order["due_at"]]
    assert escalate(api, activated_user, received).json["code"] == "already_escalated"


def test_escalation_is_open_for_fifteen_days_after_a_rejection(api: Api, activated_user: str, received: str) -> None:
    rejected(api, activated_user, received)
    clock.advance(rules().dispute_window_seconds + 1)
    assert escalate(api, activated_user, received).json["code"] == "escalation_window_closed"


def test_a_stalled_return_shipment_can_be_escalated(api: Api, activated_user: str, received: str) -> None:
    req = ask(api, activated_user, received, "return_goods")
    decide(api, req["request_id"], "approve")
    ship_back(api, activated_user, received, req["request_id"])
    assert escalate(api, activated_user, received).json["code"] == "not_escalable"  # not stalled yet
    clock.advance(rules().aftersale_arrival_seconds + 1)
    e = escalate(api, activated_user, received)
    assert e.status_code == 201, e.json
    # Support decides now: the sweep no longer acts on it.
    assert advance()["processed"] == 0
    d = api.post(f"/v1/support/disputes/{e.json['dispute_id']}/decision", {"decision": "refund"}, idem=new_key(), **S)
    assert d.status_code == 200
    assert order_of(api, activated_user, received)["status"] == "returned" and credit_used(activated_user) == 0


def test_a_dispute_refund_after_payout_leaves_the_payable_negative(
    api: Api, activated_user: str, received: str
) -> None:
    from tests.support.payouts import GOOD, TO_CUTOFF, set_account

    set_account(api, GOOD)
    owed = payable()
    clock.advance(int(TO_CUTOFF.total_seconds()))
    schedules.run("run_payouts", clock.now())
    assert payable() == 0
    rejected(api, activated_user, received)
    dispute_id = escalate(api, activated_user, received).json["dispute_id"]
    api.post(f"/v1/support/disputes/{dispute_id}/decision", {"decision": "refund"}, idem=new_key(), **S)
    assert payable() == -owed
    assert schedules.run("reconcile_ledger", clock.now())["drift"] == 0


def test_support_sees_a_404_for_a_missing_dispute_and_consumers_cannot_list(api: Api, activated_user: str) -> None:
    assert api.get("/v1/support/disputes/dsp_missing", **S).json["code"] == "dispute_not_found"
    assert api.get("/v1/support/disputes", as_=activated_user).status_code == 403


# --- exchange -------------------------------------------------------------------------------------


def test_an_exchange_ships_back_reships_and_restarts_the_window(
    api: Api, activated_user: str, tees: dict[str, Any]
) -> None:
    m, lg, xl = (s["sku_id"] for s in tees["skus"])
    order_id = place(api, activated_user, tees, qty=(2, 0, 0))  # type: ignore[arg-type]
    ship(api, order_id)
    api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user)
    assert stock(api, tees) == [8, 10, 10]
    assert exchange_for(api, activated_user, order_id, m, xl).json["code"] == "invalid_exchange_items"  # price
    assert exchange_for(api, activated_user, order_id, m, m).json["code"] == "invalid_exchange_items"
    r = exchange_for(api, activated_user, order_id, m, lg)
    assert r.status_code == 201 and r.json["kind"] == "exchange" and r.json["items"][0]["to_sku_id"] == lg, r.json
    # The merchant sees what comes back and what to send, without looking SKUs up.
    line = api.get("/v1/merchant/return-requests", **M).json["items"][0]["items"][0]
    assert (line["name"], line["attributes"], line["to_attributes"]) == ("T恤", {"尺码": "M"}, {"尺码": "L"}), line
    request_id = r.json["request_id"]
    decide(api, request_id, "approve")
    clock.advance(86400)
    ship_back(api, activated_user, order_id, request_id)
    a = api.post(f"/v1/merchant/return-requests/{request_id}/arrival", **M)
    assert a.json["status"] == "awaiting_reshipment", a.json
    assert stock(api, tees) == [9, 10, 10]  # the M is back in stock; the L leaves with the reshipment
    body = {"carrier": "SF", "tracking_number": "SF5555555555"}
    rs = api.post(f"/v1/merchant/return-requests/{request_id}/reshipment", body, **M)
    assert rs.status_code == 200 and rs.json["status"] == "reshipped", rs.json
    assert stock(api, tees) == [9, 9, 10]
    assert api.post(f"/v1/merchant/return-requests/{request_id}/reshipment", body, **M).status_code == 409
    assert "replacement_shipped" in kinds(activated_user)
    lines = {i["sku_id"]: i["quantity"] for i in order_of(api, activated_user, order_id)["items"]}
    assert lines == {m: 1, lg: 1}
    clock.advance(3600)
    got = api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user)
    assert got.status_code == 200 and got.json["status"] == "received", got.json
    due = got.json["due_at"]
    assert due == (clock.now() + timedelta(seconds=rules().payment_window_seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert [t.due_at for t in charges(order_id)] == [due]  # the old window's timer is gone
    assert credit_used(activated_user) == 2 * 5990  # nothing refunded: the same price


def test_an_exchange_the_merchant_never_reships_is_refunded(
    api: Api, activated_user: str, tees: dict[str, Any]
) -> None:
    order_id, request_id = exchanged_goods_back(api, activated_user, tees)
    clock.advance(rules().aftersale_answer_seconds + 1)
    assert advance()["processed"] == 1
    assert order_of(api, activated_user, order_id)["status"] == "returned" and credit_used(activated_user) == 0


def test_a_replacement_nobody_confirms_is_confirmed_by_the_sweep(
    api: Api, activated_user: str, tees: dict[str, Any]
) -> None:
    order_id, request_id = exchanged_goods_back(api, activated_user, tees)
    api.post(
        f"/v1/merchant/return-requests/{request_id}/reshipment", {"carrier": "SF", "tracking_number": "SF55555"}, **M
    )
    clock.advance(rules().auto_confirm_receipt_seconds + 1)
    assert advance()["processed"] == 1
    order = order_of(api, activated_user, order_id)
    assert order["status"] == "received" and [i["sku_id"] for i in order["items"]] == [tees["skus"][1]["sku_id"]]


def test_a_replacement_received_the_instant_the_window_opened_keeps_that_window(
    api: Api, activated_user: str, tees: dict[str, Any]
) -> None:
    """The model-based test (issue 30): with the clock still, the new window is the old one;
    cancelling and setting its timers in one transaction was a 500 (one item, two writes)."""
    order_id, request_id = exchanged_goods_back(api, activated_user, tees)
    due = order_of(api, activated_user, order_id)["due_at"]
    body = {"carrier": "SF", "tracking_number": "SF55555"}
    assert api.post(f"/v1/merchant/return-requests/{request_id}/reshipment", body, **M).status_code == 200
    got = api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user)
    assert got.status_code == 200 and got.json["status"] == "received" and got.json["due_at"] == due, got.json
    assert [t.due_at for t in charges(order_id)] == [due]
