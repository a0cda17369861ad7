"""Paying a month's bill (账单) in one charge (SPEC 'Installments': bills): every part due that
month across orders, charged once whatever the number of parts, each part paid once."""

from __future__ import annotations

from typing import Any

from chalicelib import errors, schedules, timers
from chalicelib.clock import clock, iso
from chalicelib.config import settings
from chalicelib.models.aftersale import Refund
from chalicelib.models.orders import Order
from chalicelib.models.payments import PaymentAttempt
from chalicelib.models.users import User
from chalicelib.services import payments, privacy
from chalicelib.services.installments.state import plan_of
from chalicelib.services.payments import bill_lines, bill_payments
from tests.conftest import Api, new_key
from tests.support import channel_sim as sim
from tests.support.collection import use_card
from tests.support.installments import china_month, received_in_parts, return_and_approve, schedule_of, to_due
from tests.support.payments import assert_balanced, platform_book, post_alipay
from tests.support.shopping import racing_transactions, run_together


def pay_bill(api: Api, user: str, month: str, channel: str = "card", idem: str | None = None) -> Any:
    """A bill payment, with a fresh Idempotency-Key unless one is given (money moves: required)."""
    return api.post(f"/v1/bnpl/bills/{month}/payments", {"channel": channel}, as_=user, idem=idem or new_key())


def two_orders_due_in_one_month(api: Api, user: str) -> tuple[str, str, str]:
    """A 3-part ¥300 order and a 6-part ¥150 order received together: their part 1 share a month."""
    first = received_in_parts(api, user)
    second = received_in_parts(api, user, parts=6, price=15_000)
    return first, second, china_month(schedule_of(api, user, first)["parts"][0]["due_at"])


def paid_seqs(order_id: str) -> list[int]:
    plan = plan_of(Order.get(order_id, consistent_read=True))
    assert plan is not None
    return [p.seq for p in plan.schedule if p.status == "paid"]


def bill_attempts(user: str, month: str) -> list[PaymentAttempt]:
    return list(PaymentAttempt.by_order.query(bill_lines.bill_ref(user, month)))


def kept_fen(*refs: str) -> int:
    """What the user's succeeded payments under `refs` kept (charged less refunded)."""
    return sum(
        int(a.amount_fen) - int(a.refunded_fen or 0)
        for ref in refs
        for a in PaymentAttempt.by_order.query(ref)
        if a.status in ("succeeded", "refunded")
    )


def test_a_months_bill_is_paid_in_one_charge_whatever_the_number_of_parts(api: Api, activated_user: str) -> None:
    user = activated_user
    first, second, month = two_orders_due_in_one_month(api, user)
    bill = api.get(f"/v1/bnpl/bills/{month}", as_=user).json
    owed = bill["unpaid_fen"]
    assert len(bill["lines"]) == 2 and owed == 10_230 + 2_615  # part 1 of each (the remainder fen on part 1)

    r = pay_bill(api, user, month)
    assert r.status_code == 201, r.json
    assert (r.json["status"], r.json["amount_fen"], r.json["month"]) == ("succeeded", owed, month)
    assert {(x["order_id"], x["seq"], x["outcome"]) for x in r.json["lines"]} == {
        (first, 1, "applied"),
        (second, 1, "applied"),
    }
    [attempt] = bill_attempts(user, month)  # one charge
    assert not list(PaymentAttempt.by_order.query(first)) and not list(PaymentAttempt.by_order.query(second))
    assert paid_seqs(first) == [1] and paid_seqs(second) == [1]
    assert api.get(f"/v1/orders/{first}", as_=user).json["status"] == "received"  # part 2 next
    assert api.get(f"/v1/bnpl/bills/{month}", as_=user).json["unpaid_fen"] == 0
    assert platform_book("clearing_card") == owed and platform_book("bill_payments") == 0
    assert_balanced()

    again = pay_bill(api, user, month)  # a new request (another key): nothing left to charge
    assert again.status_code == 409 and again.json["code"] == "bill_already_paid", again.json
    assert len(bill_attempts(user, month)) == 1 and platform_book("clearing_card") == owed
    clock.advance(settings().rules.collection_query_seconds + 1)
    schedules.run("close_payment_windows", clock.now())
    assert not timers.live(attempt.attempt_id)  # the check found nothing left to do


def test_a_retry_with_the_same_key_replays_the_first_answer(api: Api, activated_user: str) -> None:
    user = activated_user
    _, _, month = two_orders_due_in_one_month(api, user)
    key = new_key()
    first = pay_bill(api, user, month, idem=key)
    second = pay_bill(api, user, month, idem=key)
    assert first.status_code == second.status_code == 201
    assert second.json == first.json and second.headers.get("Idempotent-Replayed") == "true"
    assert len(bill_attempts(user, month)) == 1


def test_a_part_paid_while_the_bill_was_paid_in_alipay_is_refunded_not_paid_twice(
    api: Api, activated_user: str
) -> None:
    user = activated_user
    first, second, month = two_orders_due_in_one_month(api, user)
    started = pay_bill(api, user, month, "alipay")
    assert started.status_code == 201, started.json
    assert started.json["status"] == "pending" and started.json["launch"]["channel"] == "alipay"
    # Meanwhile the first order's part 1 is paid on its own (pay now with the card).
    paid = api.post(f"/v1/orders/{first}/payments", {"channel": "card"}, as_=user, idem=new_key())
    assert paid.status_code == 201, paid.json

    notify = sim.alipay_sign(sim.alipay_params(started.json["payment_id"], started.json["amount_fen"]))
    assert post_alipay(api, notify).status_code == 200
    assert post_alipay(api, notify).status_code == 200  # delivered twice: one effect
    assert paid_seqs(first) == [1] and paid_seqs(second) == [1]  # each part paid once
    [attempt] = bill_attempts(user, month)
    assert attempt.status == "succeeded" and int(attempt.refunded_fen) == 10_230  # the first order's share
    assert platform_book("bill_payments") == 0
    assert kept_fen(first, second, bill_lines.bill_ref(user, month)) == 10_230 + 2_615
    assert_balanced()
    clock.advance(settings().rules.collection_query_seconds + 1)
    assert schedules.run("close_payment_windows", clock.now())["bill_payments_processed"] == 1
    assert not timers.live(attempt.attempt_id)  # resolved: its timer is gone
    assert int(PaymentAttempt.get(attempt.attempt_id).refunded_fen) == 10_230  # refunded once


def test_the_bill_and_the_auto_debit_at_once_never_pay_a_part_twice(api: Api, activated_user: str) -> None:
    user = activated_user
    first, second, month = two_orders_due_in_one_month(api, user)
    to_due(first)
    now = clock.now()
    with racing_transactions(2, first_only=True):
        results = run_together(
            lambda: bill_payments.pay_bill(user, month, "card", now),
            lambda: payments.close_payment_windows(now),
        )
    assert not any(isinstance(r, Exception) and not isinstance(r, errors.DomainError) for r in results), results
    clock.advance(settings().rules.collection_query_seconds + 1)
    schedules.run("close_payment_windows", clock.now())  # whatever was left hanging is finished
    plans = [plan_of(Order.get(oid, consistent_read=True)) for oid in (first, second)]
    paid_fen = sum(p.amount_fen for plan in plans if plan for p in plan.schedule if p.status == "paid")
    assert paid_fen >= 10_230 + 2_615  # part 1 of each order is paid
    assert kept_fen(first, second, bill_lines.bill_ref(user, month)) == paid_fen  # and nothing twice
    assert platform_book("bill_payments") == 0
    assert_balanced()


def test_a_card_charge_left_hanging_is_settled_by_its_timer(api: Api, activated_user: str) -> None:
    user = activated_user
    first, second, month = two_orders_due_in_one_month(api, user)
    use_card(api, user, "0003")  # the gateway times out; its query later says succeeded
    r = pay_bill(api, user, month)
    assert r.status_code == 201 and r.json["status"] == "pending", r.json
    assert all(x["outcome"] == "pending" for x in r.json["lines"])
    clock.advance(settings().rules.collection_query_seconds + 1)
    assert schedules.run("close_payment_windows", clock.now())["bill_payments_processed"] == 1
    assert paid_seqs(first) == [1] and paid_seqs(second) == [1]
    assert not timers.live(r.json["payment_id"])
    assert len(bill_attempts(user, month)) == 1


def test_an_alipay_bill_trade_never_paid_is_closed_by_its_timer(api: Api, activated_user: str) -> None:
    user = activated_user
    first, _, month = two_orders_due_in_one_month(api, user)
    r = pay_bill(api, user, month, "alipay")
    assert r.status_code == 201, r.json
    clock.advance(settings().rules.checkout_ttl_seconds + 1)
    schedules.run("close_payment_windows", clock.now())
    assert PaymentAttempt.get(r.json["payment_id"]).status == "failed"
    assert not timers.live(r.json["payment_id"])


def test_what_cannot_be_paid_is_refused_with_its_reason(api: Api, activated_user: str) -> None:
    user = activated_user
    first, _, month = two_orders_due_in_one_month(api, user)
    r = pay_bill(api, user, "2026-13")
    assert r.status_code == 422 and r.json["code"] == "invalid_month"
    r = pay_bill(api, user, "2020-01")
    assert r.status_code == 404 and r.json["code"] == "nothing_due"
    next_month = china_month(schedule_of(api, user, first)["parts"][1]["due_at"])
    r = pay_bill(api, user, next_month)  # part 2 waits for part 1
    assert r.status_code == 409 and r.json["code"] == "bill_not_payable", r.json


def test_a_closing_account_still_pays_its_bill_and_a_closed_one_is_refused(api: Api, activated_user: str) -> None:
    user = activated_user
    first, _, month = two_orders_due_in_one_month(api, user)
    User(user).update(actions=[User.closing_id.set("cls_x"), User.closing_at.set(iso(clock.now()))])
    r = pay_bill(api, user, month)  # paying what is owed is never refused
    assert r.status_code == 201 and r.json["status"] == "succeeded", r.json
    User(user).update(actions=[User.closing_id.remove(), User.closing_at.remove()])

    other = "u-bill-closed"
    api.post("/v1/me/identity", {"real_name": "李四", "id_number": "110105199003070017"}, as_=other)
    privacy.close(other, clock.now())
    r = pay_bill(api, other, month)
    assert r.status_code == 401 and r.json["code"] == "account_closed", r.json


def test_a_part_paid_through_the_bill_is_refunded_through_it_on_a_return(api: Api, activated_user: str) -> None:
    """Both orders' part 1 paid by one bill charge, then both orders returned whole: each
    order's paid principal goes back to the card through the bill payment, once, never more
    than that order's line."""
    user = activated_user
    first, second, month = two_orders_due_in_one_month(api, user)
    assert pay_bill(api, user, month).status_code == 201
    [attempt] = bill_attempts(user, month)
    paid_principal: dict[str, int] = {}
    for oid in (first, second):
        plan = plan_of(Order.get(oid, consistent_read=True))
        assert plan is not None
        paid_principal[oid] = sum(p.principal_fen for p in plan.schedule if p.status == "paid")
    for oid in (first, second):
        return_and_approve(api, user, oid)
        assert api.get(f"/v1/orders/{oid}", as_=user).json["status"] == "returned"
    owed = {oid: sum(int(r.amount_fen) for r in Refund.scan(Refund.order_id == oid)) for oid in (first, second)}
    assert owed == paid_principal
    assert schedules.run("process_refunds", clock.now())["processed"] == 2
    assert schedules.run("process_refunds", clock.now())["processed"] == 0  # once
    refunded = int(PaymentAttempt.get(attempt.attempt_id).refunded_fen or 0)
    assert refunded == sum(paid_principal.values())
    assert platform_book("clearing_card") == int(attempt.amount_fen) - refunded
    assert_balanced()


def test_a_wechat_bill_trade_paid_in_the_app_or_closed_there_is_settled_when_launched_again(
    api: Api, activated_user: str
) -> None:
    """Tapping WeChat Pay again for the same bill launches the same trade; one WeChat Pay will
    not open again is settled from its query: closed there → a new trade; paid there → 409
    `payment_in_progress` and the bill paid (both were a 500). Not answering → 503."""
    from chalicelib.channels.simulator import SIMULATOR

    user = activated_user
    first, second, month = two_orders_due_in_one_month(api, user)
    r = pay_bill(api, user, month, "wechat_pay", idem=new_key())
    assert r.status_code == 201, r.json
    trade, amount = r.json["payment_id"], int(r.json["amount_fen"])
    SIMULATOR.lose_answer(trade, "prepay")
    unanswered = pay_bill(api, user, month, "wechat_pay", idem=new_key())
    assert unanswered.status_code == 503 and unanswered.json["code"] == "temporarily_unavailable", unanswered.json
    assert SIMULATOR.expire(trade, amount)
    anew = pay_bill(api, user, month, "wechat_pay", idem=new_key())
    assert anew.status_code == 201 and anew.json["payment_id"] != trade, anew.json
    assert PaymentAttempt.get(trade).status == "failed"
    assert SIMULATOR.open(anew.json["payment_id"], amount) and SIMULATOR.pay(anew.json["payment_id"], amount)
    paid = pay_bill(api, user, month, "wechat_pay", idem=new_key())
    assert paid.status_code == 409 and paid.json["code"] == "payment_in_progress", paid.json
    assert paid_seqs(first) == [1] and paid_seqs(second) == [1]
    assert kept_fen(bill_lines.bill_ref(user, month)) == amount
    assert_balanced()


def test_a_bill_payment_without_an_idempotency_key_is_refused_before_anything_is_charged(
    api: Api, activated_user: str
) -> None:
    """SPEC Conventions: the key is required where money moves, as on pay now (it was optional)."""
    user = activated_user
    _, _, month = two_orders_due_in_one_month(api, user)
    r = api.post(f"/v1/bnpl/bills/{month}/payments", {"channel": "card"}, as_=user)
    assert r.status_code == 400 and r.json["code"] == "missing_idempotency_key", r.json
    assert bill_attempts(user, month) == []
