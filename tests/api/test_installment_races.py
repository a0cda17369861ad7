"""Races on one installment order (an independent tester's probes of the third release):
whichever of two actions commits first wins, and every part is charged at most once."""

from __future__ import annotations

from typing import Any

from chalicelib import ledger, schedules
from chalicelib.clock import clock
from chalicelib.models.aftersale import Refund
from chalicelib.models.payments import PaymentAttempt
from tests.api.test_installments import book, return_and_approve, two_items_in_parts
from tests.conftest import Api, new_key
from tests.support.installments import PRICE, received_in_parts, schedule_of, to_due
from tests.support.shopping import MERCHANT, racing_transactions, run_together


def charged(order_id: str) -> int:
    return sum(int(a.amount_fen) for a in PaymentAttempt.by_order.query(order_id) if a.status == "succeeded")


def paid_parts(shown: dict[str, Any]) -> int:
    return sum(int(p["amount_fen"]) for p in shown["parts"] if p["status"] == "paid")


def test_paying_the_next_part_while_the_sweep_debits_it_charges_it_once(api: Api, activated_user: str) -> None:
    user = activated_user
    oid = received_in_parts(api, user)
    to_due(oid)
    with racing_transactions(2, first_only=True):
        run_together(
            lambda: api.post(f"/v1/orders/{oid}/payments", {"channel": "card"}, as_=user, idem=new_key()),
            lambda: schedules.run("close_payment_windows", clock.now()),
        )
    shown = schedule_of(api, user, oid)
    assert [p["status"] for p in shown["parts"]][0] == "paid"
    assert charged(oid) == paid_parts(shown) == 10_230
    assert book(ledger.user_account(user), ledger.CREDIT) == PRICE - 10_000


def test_paying_everything_while_a_return_is_requested_leaves_the_books_whole(api: Api, activated_user: str) -> None:
    user = activated_user
    oid = two_items_in_parts(api, user)
    sku = api.get(f"/v1/orders/{oid}", as_=user).json["items"][0]["sku_id"]
    body = {"reason": "不想要了", "items": [{"sku_id": sku, "quantity": 1}]}
    with racing_transactions(2, first_only=True):
        pay, ask = run_together(
            lambda: api.post(
                f"/v1/orders/{oid}/payments", {"channel": "card", "scope": "all"}, as_=user, idem=new_key()
            ),
            lambda: api.post(f"/v1/orders/{oid}/return-requests", body, as_=user),
        )
    shown = schedule_of(api, user, oid)
    assert charged(oid) == paid_parts(shown) - sum(int(p.get("fee_waived_fen") or 0) for p in shown["parts"])
    assert {pay.status_code, ask.status_code} <= {201, 409}, (pay.json, ask.json)


def test_two_partial_returns_asked_together_cannot_both_refund_a_part(api: Api, activated_user: str) -> None:
    """The suspect 'two returns approved together both refund the same part payment': an
    order holds one pending return at a time, so the second request is a 409 and the one
    approved shrinks the parts once."""
    user = activated_user
    oid = two_items_in_parts(api, user)
    assert api.post(f"/v1/orders/{oid}/payments", {"channel": "card"}, as_=user, idem=new_key()).status_code == 201
    sku = api.get(f"/v1/orders/{oid}", as_=user).json["items"][0]["sku_id"]
    body = {"reason": "不想要了", "items": [{"sku_id": sku, "quantity": 1}]}
    with racing_transactions(2, first_only=True):
        answers = run_together(*[lambda: api.post(f"/v1/orders/{oid}/return-requests", body, as_=user)] * 2)
    assert sorted(a.status_code for a in answers) == [201, 409]
    asked = next(a for a in answers if a.status_code == 201)
    decided = api.post(
        f"/v1/merchant/return-requests/{asked.json['request_id']}/decision",
        {"decision": "approve", "note": "好的"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert decided.status_code == 200, decided.json
    shown = schedule_of(api, user, oid)
    assert [p["status"] for p in shown["parts"]] == ["paid", "scheduled", "refunded"]
    assert [p["principal_fen"] for p in shown["parts"]] == [10_000, 5_000, 0]
    assert charged(oid) == 10_230


def test_two_returns_settled_before_refunds_run_never_refund_a_part_payment_beyond_its_amount(
    api: Api, activated_user: str
) -> None:
    """Parts 1 and 2 paid (two payments), then both items returned one after the other before
    the refund job runs: the second return must not count the first one's refund as still
    refundable on the same payment."""
    user = activated_user
    oid = two_items_in_parts(api, user)
    for _ in range(2):
        assert api.post(f"/v1/orders/{oid}/payments", {"channel": "card"}, as_=user, idem=new_key()).status_code == 201
    return_and_approve(api, user, oid, 1)
    return_and_approve(api, user, oid, 1)
    owed = [r for r in Refund.scan() if r.order_id == oid]  # a test table: a scan is fine
    by_attempt: dict[str, int] = {}
    for refund in owed:
        by_attempt[str(refund.attempt_id)] = by_attempt.get(str(refund.attempt_id), 0) + int(refund.amount_fen)
    for attempt in PaymentAttempt.by_order.query(oid):
        assert by_attempt.get(attempt.attempt_id, 0) <= int(attempt.amount_fen), (by_attempt, attempt.amount_fen)
    assert sum(by_attempt.values()) == 20_000  # the principal paid back; the begun months' fee is kept
