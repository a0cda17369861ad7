"""Payment attempts on an installment order record the part they pay (issue 26): money that
arrives for a part paid meanwhile another way is refunded to the payer, never applied to the
next part; two taps on "pay the next part" at once charge once."""

from __future__ import annotations

from typing import Any

from chalicelib import errors, schedules
from chalicelib.clock import clock
from chalicelib.db import connection
from chalicelib.models.orders import Order
from chalicelib.models.payments import PaymentAttempt
from chalicelib.services import payments
from chalicelib.services.installments.state import plan_of
from tests.conftest import Api, new_key
from tests.support import channel_sim as sim
from tests.support.collection import use_card
from tests.support.installments import china_month, received_in_parts, schedule_of, to_due
from tests.support.payments import assert_balanced, post_alipay, post_raw
from tests.support.shopping import dynamodb_calls, two_card_taps

PART = 10_230  # each of the 3 parts of ¥300 (2.3 % fee)


def paid_seqs(order_id: str) -> list[int]:
    plan = plan_of(Order.get(order_id, consistent_read=True))
    assert plan is not None
    return [p.seq for p in plan.schedule if p.status == "paid"]


def pay_next(api: Api, user: str, order_id: str, channel: str, scope: str = "next_part") -> Any:
    return api.post(f"/v1/orders/{order_id}/payments", {"channel": channel, "scope": scope}, as_=user, idem=new_key())


def pay_bill_by_card(api: Api, user: str, order_id: str) -> None:
    month = china_month(schedule_of(api, user, order_id)["parts"][0]["due_at"])
    r = api.post(f"/v1/bnpl/bills/{month}/payments", {"channel": "card"}, as_=user, idem=new_key())
    assert r.status_code == 201 and r.json["status"] == "succeeded", r.json


def kept(order_id: str) -> int:
    """What the order's own attempts kept (charged less refunded)."""
    return sum(
        int(a.amount_fen) - int(a.refunded_fen or 0)
        for a in PaymentAttempt.by_order.query(order_id)
        if a.status in ("succeeded", "refunded")
    )


def test_an_alipay_payment_for_a_part_paid_meanwhile_by_the_bill_is_refunded_not_applied_to_the_next(
    api: Api, activated_user: str
) -> None:
    """Regression: the attempt did not record its part; its money, arriving after part 1 was
    paid through the monthly bill, paid part 2 (the same amount), which the buyer never asked."""
    user = activated_user
    oid = received_in_parts(api, user)
    started = pay_next(api, user, oid, "alipay")
    assert started.status_code == 201 and started.json["status"] == "pending", started.json
    pay_bill_by_card(api, user, oid)  # part 1 paid another way (the bill is not this order's trade)
    assert paid_seqs(oid) == [1]

    notify = sim.alipay_sign(sim.alipay_params(started.json["payment_id"], PART))
    assert post_alipay(api, notify).status_code == 200
    assert paid_seqs(oid) == [1]  # part 2 is not paid by money meant for part 1
    attempt = PaymentAttempt.get(started.json["payment_id"], consistent_read=True)
    assert (attempt.outcome, int(attempt.part_seq)) == ("unapplied", 1)
    assert int(attempt.refunded_fen) == PART and kept(oid) == 0  # refunded to the payer
    assert schedule_of(api, user, oid)["parts"][1]["status"] == "scheduled"
    assert_balanced()


def test_a_timed_out_auto_debit_that_succeeds_after_its_part_was_paid_is_refunded(
    api: Api, activated_user: str
) -> None:
    """Regression: the auto-debit of part 1 timed out at the gateway; the bill paid part 1; the
    gateway's late 'succeeded' then paid part 2 with the money of part 1's debit."""
    user = activated_user
    oid = received_in_parts(api, user)
    use_card(api, user, "0003")  # the gateway times out (and later says succeeded)
    to_due(oid)
    assert schedules.run("close_payment_windows", clock.now())["pending"] == 1
    [debit] = [a for a in PaymentAttempt.by_order.query(oid) if a.status == "pending"]
    use_card(api, user, "0001")
    pay_bill_by_card(api, user, oid)
    assert paid_seqs(oid) == [1]

    body, headers = sim.card_notification(debit.attempt_id, PART)
    assert post_raw(api, "/v1/channels/card/notify", body, headers).status_code == 200
    assert paid_seqs(oid) == [1]
    settled = PaymentAttempt.get(debit.attempt_id, consistent_read=True)
    assert (settled.status, settled.outcome, int(settled.refunded_fen)) == ("refunded", "unapplied", PART)
    assert_balanced()


def test_a_payoff_quoted_before_a_part_was_paid_is_refunded_whole(api: Api, activated_user: str) -> None:
    user = activated_user
    oid = received_in_parts(api, user)
    payoff = schedule_of(api, user, oid)["payoff_fen"]
    started = pay_next(api, user, oid, "alipay", scope="all")
    assert started.status_code == 201 and started.json["amount_fen"] == payoff, started.json
    pay_bill_by_card(api, user, oid)

    notify = sim.alipay_sign(sim.alipay_params(started.json["payment_id"], payoff))
    assert post_alipay(api, notify).status_code == 200
    assert paid_seqs(oid) == [1]
    attempt = PaymentAttempt.get(started.json["payment_id"], consistent_read=True)
    assert (attempt.part_scope, attempt.outcome, int(attempt.refunded_fen)) == ("all", "unapplied", payoff)
    assert_balanced()


def test_a_second_tap_that_read_the_same_part_is_payment_in_progress(api: Api, activated_user: str) -> None:
    """Regression: two taps on 'pay the next part'; the second read the order (part 1 next)
    before the first paid, and its attempts after: it numbered a fresh attempt, read the order
    again and paid part 2 too. Now its attempt is part 1's: 409 `payment_in_progress`."""
    user = activated_user
    oid = received_in_parts(api, user)
    first, second = two_card_taps(user, oid)
    assert first.attempt.status == "succeeded"
    assert isinstance(second, errors.Conflict) and second.code == "payment_in_progress", second
    assert paid_seqs(oid) == [1]
    assert kept(oid) == PART  # one charge
    assert pay_next(api, user, oid, "card").status_code == 201  # a later tap pays part 2
    assert paid_seqs(oid) == [1, 2]


def test_two_taps_for_the_next_part_at_once_charge_once(api: Api, activated_user: str) -> None:
    from tests.support.shopping import racing_transactions, run_together

    user = activated_user
    oid = received_in_parts(api, user)
    with racing_transactions(2, first_only=True):
        results = run_together(*(lambda: payments.pay_now(user, oid, "card", clock.now()) for _ in range(2)))
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and getattr(refused[0], "code", None) == "payment_in_progress", results
    assert paid_seqs(oid) == [1] and kept(oid) == PART
    assert_balanced()


# --- DynamoDB calls (issue 29) ---------------------------------------------------------------


def test_paying_a_part_in_the_app_and_the_bill_take_three_calls_and_replay_their_key(
    api: Api, activated_user: str
) -> None:
    """The Idempotency-Key is claimed by the attempt's own transaction and the order read once:
    pay now (Alipay) and the bill payment (Alipay) each read the order (or the bill) and the
    attempts, then write once; the same key again replays the answer, charging nothing more."""
    user = activated_user
    oid = received_in_parts(api, user)
    key = new_key()
    path = f"/v1/orders/{oid}/payments"
    with dynamodb_calls() as calls:
        first = api.post(path, {"channel": "alipay"}, as_=user, idem=key)
    assert first.status_code == 201, first.json
    assert sum(calls.values()) <= 3, calls
    again = api.post(path, {"channel": "alipay"}, as_=user, idem=key)
    assert again.json == first.json and again.headers.get("Idempotent-Replayed") == "true"

    month = china_month(schedule_of(api, user, oid)["parts"][0]["due_at"])
    bill_path, bill_key = f"/v1/bnpl/bills/{month}/payments", new_key()
    with dynamodb_calls() as calls:
        bill = api.post(bill_path, {"channel": "alipay"}, as_=user, idem=bill_key)
    assert bill.status_code == 201 and bill.json["status"] == "pending", bill.json
    assert sum(calls.values()) <= 3, calls
    replay = api.post(bill_path, {"channel": "alipay"}, as_=user, idem=bill_key)
    assert replay.json == bill.json and replay.headers.get("Idempotent-Replayed") == "true"
    assert len(list(PaymentAttempt.by_order.query(oid))) == 1


def test_a_tap_whose_part_a_pending_charge_paid_meanwhile_does_not_pay_the_next_part(
    api: Api, activated_user: str
) -> None:
    """Regression (the installment model): the second tap saw the first tap's card charge still
    pending, settled it (the gateway said succeeded: part 1 paid), read the order again and
    charged part 2, a part nobody asked to pay. The tap was for part 1: 409 `payment_in_progress`."""
    user = activated_user
    oid = received_in_parts(api, user)
    use_card(api, user, "0003")  # the gateway times out: the first tap's charge stays pending
    first = payments.pay_now(user, oid, "card", clock.now())
    assert first.attempt.status == "pending"
    use_card(api, user, "0001")

    client = connection().client

    def gateway_says_succeeded(**_: Any) -> None:  # as the second tap settles the charge it saw pending
        client.meta.events.unregister("before-call.dynamodb.GetItem", unique_id="gateway")
        body, headers = sim.card_notification(first.attempt.attempt_id, PART)
        assert post_raw(api, "/v1/channels/card/notify", body, headers).status_code == 200

    def attempts_read(**_: Any) -> None:  # the second tap read the order, then its attempts
        client.meta.events.unregister("before-call.dynamodb.Query", unique_id="attempts")
        client.meta.events.register("before-call.dynamodb.GetItem", gateway_says_succeeded, unique_id="gateway")

    client.meta.events.register("before-call.dynamodb.Query", attempts_read, unique_id="attempts")
    try:
        second: Any = payments.pay_now(user, oid, "card", clock.now())
    except errors.DomainError as err:
        second = err
    finally:
        client.meta.events.unregister("before-call.dynamodb.Query", unique_id="attempts")
        client.meta.events.unregister("before-call.dynamodb.GetItem", unique_id="gateway")
    assert isinstance(second, errors.Conflict) and second.code == "payment_in_progress", second
    assert paid_seqs(oid) == [1]
    assert kept(oid) == PART  # one charge
