"""Installments (分期, SPEC 'Installments'): quotes, buying in parts, the schedule, paying it."""

from __future__ import annotations

from typing import Any

from chalicelib import ledger, schedules
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.models.aftersale import Refund
from chalicelib.models.payments import PaymentAttempt
from chalicelib.models.users import User
from tests.conftest import Api, new_key
from tests.support.collection import use_card
from tests.support.installments import (
    PRICE,
    buy_in_parts,
    china_month,
    plans_of,
    received_in_parts,
    return_and_approve,
    schedule_of,
    to_due,
)
from tests.support.shopping import ADDRESS, MERCHANT, confirm, create_product, racing_transactions, run_together


def interest_free_product(api: Api, parts: list[int], price: int = PRICE) -> dict[str, Any]:
    body = {
        "name": "耳机",
        "skus": [{"attributes": {"颜色": "白"}, "price_fen": price, "stock": 20}],
        "interest_free_parts": parts,
    }
    r = api.post("/v1/merchant/products", body, as_=MERCHANT, roles=["merchant"])
    assert r.status_code == 201, r.json
    return dict(r.json)


def test_a_quote_shows_every_plan_with_its_fee_parts_and_rate(api: Api, activated_user: str) -> None:
    plans = plans_of(api, activated_user, 10_001)
    assert sorted(plans) == [1, 3, 6, 12]
    assert plans[1]["plan"] == "single" and plans[1]["fee_fen"] == 0 and plans[1]["parts_fen"] == [10_001]
    three = plans[3]
    assert three["fee_fen"] == 230 and three["fee_payer"] == "consumer"
    assert three["parts_fen"] == [3_411, 3_410, 3_410]
    assert three["apr_bps"] > 0 and len(three["schedule_checksum"]) == 32
    assert sum(plans[12]["parts_fen"]) == 10_001 + plans[12]["fee_fen"]


def test_below_the_eligible_amount_only_the_single_payment_is_offered(api: Api, activated_user: str) -> None:
    assert sorted(plans_of(api, activated_user, 9_999)) == [1]


def test_an_interest_free_product_shifts_the_fee_to_the_merchant(api: Api, activated_user: str) -> None:
    product = create_product(api)
    assert product["interest_free_parts"] == []
    free = interest_free_product(api, [3, 6])
    plans = plans_of(api, activated_user, PRICE, free["product_id"])
    assert plans[3]["fee_payer"] == "merchant" and plans[3]["fee_fen"] == 690
    assert plans[3]["parts_fen"] == [10_000, 10_000, 10_000] and plans[3]["apr_bps"] == 0
    assert plans[12]["fee_payer"] == "consumer" and sum(plans[12]["parts_fen"]) == PRICE + 2_250


def test_a_merchant_can_only_offer_plans_that_exist(api: Api) -> None:
    body = {"name": "耳机", "skus": [{"price_fen": PRICE, "stock": 1}], "interest_free_parts": [5]}
    r = api.post("/v1/merchant/products", body, as_=MERCHANT, roles=["merchant"])
    assert r.status_code == 422 and r.json["code"] == "unknown_plan"


# --- buying in parts ----------------------------------------------------------------------


def book(account: str, name: str) -> int:
    found = ledger.balances(account).get(name)
    return int(found.balance) if found is not None else 0


def test_a_stale_checksum_is_plan_changed(api: Api, activated_user: str) -> None:
    product = create_product(api, skus=[{"attributes": {}, "price_fen": PRICE, "stock": 5}])
    body = {
        "items": [{"sku_id": product["skus"][0]["sku_id"], "quantity": 1}],
        "payment_method": "bnpl",
        "address": ADDRESS,
        "installments": {"parts": 3, "schedule_checksum": "0" * 32},
    }
    r = api.post("/v1/checkout", body, as_=activated_user, idem=new_key())
    assert r.status_code == 409 and r.json["code"] == "plan_changed"


def test_buying_in_three_parts_dates_the_parts_and_paying_them_closes_the_order(api: Api, activated_user: str) -> None:
    user = activated_user
    account = ledger.user_account(user)
    oid = received_in_parts(api, user)
    fee = 690  # 2.3 % of ¥300
    assert book(account, ledger.INSTALLMENT_FEE_OWED) == fee
    assert book(account, ledger.CREDIT) == PRICE  # the principal is reserved, not the fee
    shown = schedule_of(api, user, oid)
    assert [p["amount_fen"] for p in shown["parts"]] == [10_230, 10_230, 10_230]
    assert [p["status"] for p in shown["parts"]] == ["scheduled"] * 3
    assert all(p["due_at"] for p in shown["parts"])
    assert shown["payoff_fen"] == PRICE + 230  # only part 1's month has begun

    paid = api.post(f"/v1/orders/{oid}/payments", {"channel": "card"}, as_=user, idem=new_key())
    assert paid.status_code == 201, paid.json
    shown = schedule_of(api, user, oid)
    assert [p["status"] for p in shown["parts"]] == ["paid", "scheduled", "scheduled"]
    assert api.get(f"/v1/orders/{oid}", as_=user).json["status"] == "received"
    assert book(account, ledger.CREDIT) == PRICE - 10_000
    assert book(account, ledger.INSTALLMENT_FEE_OWED) == fee - 230
    assert book(account, ledger.POINTS) == 100  # ¥100 of principal paid on time

    for _ in range(2):
        assert api.post(f"/v1/orders/{oid}/payments", {"channel": "card"}, as_=user, idem=new_key()).status_code == 201
    shown = schedule_of(api, user, oid)
    assert [p["status"] for p in shown["parts"]] == ["paid"] * 3
    assert api.get(f"/v1/orders/{oid}", as_=user).json["status"] == "paid"
    assert book(account, ledger.CREDIT) == 0 and book(account, ledger.INSTALLMENT_FEE_OWED) == 0
    assert book(account, ledger.POINTS) == 300


# --- collection part by part --------------------------------------------------------------


def test_each_part_is_auto_debited_on_its_date_and_a_decline_freezes_until_paid(api: Api, activated_user: str) -> None:
    user = activated_user
    oid = received_in_parts(api, user)
    to_due(oid)
    assert schedules.run("close_payment_windows", clock.now())["paid"] == 1
    assert [p["status"] for p in schedule_of(api, user, oid)["parts"]] == ["paid", "scheduled", "scheduled"]
    assert schedules.run("close_payment_windows", clock.now())["paid"] == 0  # part 2 is not due yet

    use_card(api, user, "0002")  # the next charge is declined
    to_due(oid)
    assert schedules.run("close_payment_windows", clock.now())["declined"] == 1
    shown = schedule_of(api, user, oid)
    assert [p["status"] for p in shown["parts"]] == ["paid", "overdue", "scheduled"]
    assert User.get(user, consistent_read=True).bnpl_status == "frozen"

    use_card(api, user, "0001")
    paid = api.post(f"/v1/orders/{oid}/payments", {"channel": "card"}, as_=user, idem=new_key())
    assert paid.status_code == 201, paid.json
    assert User.get(user, consistent_read=True).bnpl_status == "active"
    assert api.get(f"/v1/orders/{oid}", as_=user).json["status"] == "received"
    # Part 2's daily retry is still set: it finds part 2 paid and charges nothing.
    clock.advance(settings().rules.collection_retry_seconds + 60)
    result = schedules.run("close_payment_windows", clock.now())
    assert result["paid"] == 0 and result["declined"] == 0
    to_due(oid)
    assert schedules.run("close_payment_windows", clock.now())["paid"] == 1
    assert api.get(f"/v1/orders/{oid}", as_=user).json["status"] == "paid"
    charged = [a for a in PaymentAttempt.by_order.query(oid) if a.status == "succeeded"]
    assert sorted(int(a.amount_fen) for a in charged) == [10_230] * 3  # each part once


def test_paying_everything_waives_the_fee_of_months_not_begun(api: Api, activated_user: str) -> None:
    user = activated_user
    account = ledger.user_account(user)
    oid = received_in_parts(api, user, parts=6)
    shown = schedule_of(api, user, oid)
    fee = 1_350  # 4.5 % of ¥300
    assert shown["payoff_fen"] == PRICE + shown["parts"][0]["fee_fen"]
    paid = api.post(f"/v1/orders/{oid}/payments", {"channel": "card", "scope": "all"}, as_=user, idem=new_key())
    assert paid.status_code == 201, paid.json
    shown = schedule_of(api, user, oid)
    assert [p["status"] for p in shown["parts"]] == ["paid"] * 6
    assert sum(p["fee_waived_fen"] for p in shown["parts"]) == fee - shown["parts"][0]["fee_fen"]
    assert api.get(f"/v1/orders/{oid}", as_=user).json["status"] == "paid"
    assert book(account, ledger.CREDIT) == 0 and book(account, ledger.INSTALLMENT_FEE_OWED) == 0
    assert book(account, ledger.POINTS) == 300


def test_an_interest_free_plan_takes_its_fee_from_the_merchants_payable(api: Api, activated_user: str) -> None:
    free = interest_free_product(api, [3])
    oid = received_in_parts(api, activated_user, product=free)
    shown = schedule_of(api, activated_user, oid)
    assert shown["fee_payer"] == "merchant" and [p["amount_fen"] for p in shown["parts"]] == [10_000] * 3
    assert book(ledger.user_account(activated_user), ledger.INSTALLMENT_FEE_OWED) == 0
    fee = ledger.leg_amount(ledger.merchant_account(MERCHANT), f"order:{oid}:merchant_installment_fee", ledger.PAYABLE)
    assert fee == -690


# --- returns ------------------------------------------------------------------------------


def two_items_in_parts(api: Api, user: str) -> str:
    """A 3-part order of two ¥150 items (so half can be returned), received."""
    product = create_product(api, skus=[{"attributes": {"规格": "标准"}, "price_fen": PRICE // 2, "stock": 20}])
    quote = plans_of(api, user, PRICE, product["product_id"])[3]
    body = {
        "items": [{"sku_id": product["skus"][0]["sku_id"], "quantity": 2}],
        "payment_method": "bnpl",
        "address": ADDRESS,
        "installments": {"parts": 3, "schedule_checksum": quote["schedule_checksum"]},
    }
    placed = api.post("/v1/checkout", body, as_=user, idem=new_key())
    assert placed.status_code == 201, placed.json
    order = placed.json["orders"][0]
    assert confirm(api, user, order).json["status"] == "placed"
    oid = str(order["order_id"])
    api.post(
        f"/v1/merchant/orders/{oid}/shipment",
        {"carrier": "SF", "tracking_number": "SF1234567890"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert api.post(f"/v1/orders/{oid}/receipt", as_=user).json["status"] == "received"
    return oid


def test_a_partial_return_shrinks_the_last_parts_with_their_fee(api: Api, activated_user: str) -> None:
    user = activated_user
    account = ledger.user_account(user)
    oid = two_items_in_parts(api, user)
    assert api.post(f"/v1/orders/{oid}/payments", {"channel": "card"}, as_=user, idem=new_key()).status_code == 201
    return_and_approve(api, user, oid, 1)  # ¥150 back: part 3 (¥100) gone, part 2 loses ¥50
    shown = schedule_of(api, user, oid)
    assert [p["status"] for p in shown["parts"]] == ["paid", "scheduled", "refunded"]
    assert shown["parts"][1]["principal_fen"] == 5_000 and shown["parts"][1]["fee_fen"] == 115
    assert api.get(f"/v1/orders/{oid}", as_=user).json["status"] == "received"
    assert book(account, ledger.CREDIT) == 5_000
    assert book(account, ledger.INSTALLMENT_FEE_OWED) == 115
    # The other item back too: ¥50 unpaid goes, ¥100 already paid comes back to the card.
    return_and_approve(api, user, oid, 1)
    shown = schedule_of(api, user, oid)
    assert [p["status"] for p in shown["parts"]] == ["paid", "refunded", "refunded"]
    assert api.get(f"/v1/orders/{oid}", as_=user).json["status"] == "returned"
    assert book(account, ledger.CREDIT) == 0 and book(account, ledger.INSTALLMENT_FEE_OWED) == 0
    assert schedules.run("process_refunds", clock.now())["processed"] == 1
    [paid] = [a for a in PaymentAttempt.by_order.query(oid) if a.status in ("succeeded", "refunded")]
    assert int(PaymentAttempt.get(paid.attempt_id).refunded_fen) == 10_000


def test_a_full_return_before_part_one_cancels_the_plan_and_its_fee(api: Api, activated_user: str) -> None:
    user = activated_user
    oid = two_items_in_parts(api, user)
    return_and_approve(api, user, oid, 2)
    shown = schedule_of(api, user, oid)
    assert [p["status"] for p in shown["parts"]] == ["refunded"] * 3 and shown["payoff_fen"] == 0
    account = ledger.user_account(user)
    assert book(account, ledger.CREDIT) == 0 and book(account, ledger.INSTALLMENT_FEE_OWED) == 0
    assert User.get(user, consistent_read=True).unpaid_bnpl_count == 0


# --- the monthly bill ---------------------------------------------------------------------


def test_a_months_bill_lists_every_part_due_in_it_across_orders(api: Api, activated_user: str) -> None:
    user = activated_user
    first = received_in_parts(api, user)
    second = received_in_parts(api, user, parts=6, price=15_000)
    parts = schedule_of(api, user, first)["parts"]
    month = china_month(parts[1]["due_at"])
    bill = api.get(f"/v1/bnpl/bills/{month}", as_=user)
    assert bill.status_code == 200, bill.json
    lines = {(line["order_id"], line["seq"]) for line in bill.json["lines"]}
    assert (first, 2) in lines and (second, 2) in lines
    assert bill.json["unpaid_fen"] == sum(line["amount_fen"] for line in bill.json["lines"])
    assert api.get("/v1/bnpl/bills/2026-13", as_=user).json["code"] == "invalid_month"


def test_cancelling_a_placed_installment_order_forgives_its_fee(api: Api, activated_user: str) -> None:
    placed = buy_in_parts(api, activated_user)
    order = placed.json["orders"][0]
    assert confirm(api, activated_user, order).json["status"] == "placed"
    assert book(ledger.user_account(activated_user), ledger.INSTALLMENT_FEE_OWED) == 690
    assert api.post(f"/v1/orders/{order['order_id']}/cancel", as_=activated_user).json["status"] == "cancelled"
    assert book(ledger.user_account(activated_user), ledger.INSTALLMENT_FEE_OWED) == 0
    shown = schedule_of(api, activated_user, order["order_id"])
    assert [p["status"] for p in shown["parts"]] == ["refunded"] * 3


def test_cancelling_an_unconfirmed_installment_order_ends_its_plan_with_no_fee(api: Api, activated_user: str) -> None:
    """`make soak` found an installment checkout cancelled before its confirmation left with
    every part still `scheduled`: the plan ends, and no fee was charged to forgive."""
    placed = buy_in_parts(api, activated_user)
    order = placed.json["orders"][0]
    assert order["status"] == "awaiting_confirmation"
    assert api.post(f"/v1/orders/{order['order_id']}/cancel", as_=activated_user).json["status"] == "cancelled"
    shown = schedule_of(api, activated_user, order["order_id"])
    assert [p["status"] for p in shown["parts"]] == ["refunded"] * 3 and shown["payoff_fen"] == 0
    assert book(ledger.user_account(activated_user), ledger.INSTALLMENT_FEE_OWED) == 0


# --- races on one installment order (an outside tester's probes) -------------------------------


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
