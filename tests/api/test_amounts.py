"""Amounts that must be right, not only balanced (issue 11): points follow the money paid
and kept, the credit limit follows the on-time orders kept, and an order's parts (what the
consumer keeps paying, what is refunded, the merchant's payable and the fee) sum to the
whole to the fen, whatever is returned when."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import schedules
from chalicelib.clock import clock
from chalicelib.config import settings as config
from chalicelib.services import apportion
from tests.conftest import Api
from tests.support.amounts import (
    bnpl_order,
    decide,
    pay_by_card,
    receive,
    request_return,
    return_and_approve,
    ship,
)
from tests.support.collection import close_windows, credit, order, to_the_close, user
from tests.support.shopping import MERCHANT


def points(api: Api, uid: str) -> int:
    return int(api.get("/v1/wallet", as_=uid).json["points"])


def payable(api: Api) -> int:
    return int(api.get("/v1/merchant/settlements", as_=MERCHANT, roles=["merchant"]).json["payable_fen"])


def paid_on_time(api: Api, uid: str, prices: tuple[int, ...] = (100,)) -> tuple[str, list[str]]:
    """A 先用后付 order received and paid by card in its window."""
    order_id, skus = bnpl_order(api, uid, list(prices))
    ship(api, order_id)
    receive(api, uid, order_id)
    pay_by_card(api, uid, order_id, sum(prices))
    return order_id, skus


# --- defect 1: points follow the money paid and kept --------------------------------------------


def test_points_do_not_survive_a_full_refund_after_credit_was_released(api: Api, activated_user: str) -> None:
    uid = activated_user
    order_id, (a, b) = bnpl_order(api, uid, [5_000, 5_000])
    ship(api, order_id)
    receive(api, uid, order_id)
    return_and_approve(api, uid, order_id, a)  # unpaid: ¥50 of credit released
    pay_by_card(api, uid, order_id, 5_000)
    assert points(api, uid) == 50
    return_and_approve(api, uid, order_id, b)  # paid: ¥50 refunded
    assert order(order_id).status == "returned"
    assert points(api, uid) == 0
    schedules.run("process_refunds", clock.now())
    assert credit(uid).balance == 0


def test_a_partial_refund_keeps_the_points_of_the_yuan_still_paid_for(api: Api, activated_user: str) -> None:
    uid = activated_user
    order_id, (a, _b) = paid_on_time(api, uid, (2_550, 7_450))
    return_and_approve(api, uid, order_id, a)
    assert points(api, uid) == 74  # the ¥74.50 still paid for


# --- defect 5: on time is judged against due_at ---------------------------------------------------


def test_a_payment_after_the_due_date_is_late_even_if_a_return_kept_the_order_in_its_window(
    api: Api, activated_user: str
) -> None:
    uid = activated_user
    order_id, (a, _b) = bnpl_order(api, uid, [5_000, 5_000])
    ship(api, order_id)
    receive(api, uid, order_id)
    request = request_return(api, uid, order_id, a)
    to_the_close(order_id)
    close_windows()  # the return pauses collection
    decide(api, request["request_id"])
    assert order(order_id).status == "received"
    pay_by_card(api, uid, order_id, 5_000)
    paid = order(order_id)
    assert paid.paid_on_time is False
    assert points(api, uid) == 0 and int(user(uid).on_time_paid_count or 0) == 0


def test_the_auto_debit_after_a_paused_window_is_still_the_windows_own_payment(api: Api, activated_user: str) -> None:
    uid = activated_user
    order_id, _ = bnpl_order(api, uid, [5_000])
    ship(api, order_id)
    receive(api, uid, order_id)
    request = request_return(api, uid, order_id)
    to_the_close(order_id)
    close_windows()
    decide(api, request["request_id"], "reject")
    assert close_windows()["paid"] == 1
    assert order(order_id).paid_on_time is True and points(api, uid) == 50


# --- defect 12: the credit limit follows the on-time orders kept ----------------------------------


def test_fully_refunded_orders_do_not_raise_the_credit_limit(api: Api, activated_user: str) -> None:
    uid = activated_user
    for _ in range(9):
        clock.advance(720)  # a shopper's pace: the risk rules decline a 6th 先用后付 order in an hour
        order_id, _ = paid_on_time(api, uid)
        return_and_approve(api, uid, order_id)
    assert int(credit(uid).limit) == config().rules.credit_start_fen
    assert int(user(uid).on_time_paid_count or 0) == 0


def test_a_full_refund_takes_back_the_limit_step_even_with_credit_in_use(api: Api, activated_user: str) -> None:
    uid, rules = activated_user, config().rules
    # ¥200 orders: the ¥600 one below is then 3× the buyer's median, not above it (no risk review)
    kept = [paid_on_time(api, uid, (20_000,))[0] for _ in range(rules.credit_step_every_on_time)]
    assert int(credit(uid).limit) == rules.credit_start_fen + rules.credit_step_fen
    big, _ = bnpl_order(api, uid, [rules.credit_start_fen + 10_000])  # above the lower limit
    return_and_approve(api, uid, kept[0])
    book = credit(uid)
    assert (int(book.limit), int(book.balance)) == (rules.credit_start_fen, rules.credit_start_fen + 10_000)
    assert api.get("/v1/wallet", as_=uid).json["credit"]["available_fen"] == 0
    assert int(user(uid).on_time_paid_count) == rules.credit_step_every_on_time - 1
    r = api.post(f"/v1/orders/{big}/cancel", {}, as_=uid)
    assert r.status_code == 200, r.json
    paid_on_time(api, uid)  # the step comes back with the next on-time order kept
    assert int(credit(uid).limit) == rules.credit_start_fen + rules.credit_step_fen


def test_a_partial_return_keeps_the_order_in_the_on_time_count(api: Api, activated_user: str) -> None:
    uid = activated_user
    order_id, (a, _b) = paid_on_time(api, uid, (100, 200))
    return_and_approve(api, uid, order_id, a)
    assert int(user(uid).on_time_paid_count) == 1


# --- defect 15: parts sum to the whole ------------------------------------------------------------


def test_a_coupon_shared_over_odd_prices_creates_no_fen(api: Api, activated_user: str) -> None:
    uid = activated_user
    coupons = api.get("/v1/wallet/coupons", as_=uid).json["items"]
    [welcome] = [c for c in coupons if c["discount_fen"] == 1_000]  # ¥10
    order_id, (small, big) = bnpl_order(api, uid, [3_333, 6_667], coupon_id=welcome["coupon_id"])
    assert int(order(order_id).total_fen) == 9_000
    ship(api, order_id)
    returned = return_and_approve(api, uid, order_id, small)  # before receipt
    receive(api, uid, order_id)
    kept = order(order_id)
    assert returned["amount_fen"] + int(kept.amount_due_fen) == 9_000
    assert (int(kept.settled_payable_fen), int(kept.settled_fee_fen)) == (6_467, 200)
    assert payable(api) == 6_467
    return_and_approve(api, uid, order_id, big)  # after receipt: everything unwinds to zero
    done = order(order_id)
    assert (int(done.settled_payable_fen), int(done.settled_fee_fen), int(done.amount_due_fen)) == (0, 0, 0)
    assert int(done.refunded_fen) == 9_000 and payable(api) == 0 and credit(uid).balance == 0


def test_fees_reversed_by_partial_returns_leave_the_fee_of_what_is_kept(api: Api, activated_user: str) -> None:
    uid = activated_user
    order_id, (a, b, _c) = bnpl_order(api, uid, [3_350, 3_350, 3_350])  # 3 % of each: 100.5
    ship(api, order_id)
    receive(api, uid, order_id)
    assert (int(order(order_id).settled_fee_fen), payable(api)) == (301, 10_050 - 301)
    return_and_approve(api, uid, order_id, a)
    return_and_approve(api, uid, order_id, b)
    kept = order(order_id)
    assert (int(kept.settled_payable_fen), int(kept.settled_fee_fen)) == (3_350 - 100, 100)
    assert payable(api) == 3_250


@settings(max_examples=200, deadline=None)
@given(
    prices=st.lists(st.integers(1, 99_999), min_size=1, max_size=5),
    discount=st.integers(0, 50_000),
    order_of_returns=st.randoms(use_true_random=False),
)
def test_any_order_of_returns_refunds_exactly_the_total_and_settles_exactly_the_goods(
    prices: list[int], discount: int, order_of_returns: Any
) -> None:
    subtotal = sum(prices)
    discount = min(discount, subtotal)
    total = subtotal - discount
    kept = list(prices)
    order_of_returns.shuffle(kept)
    refunded = 0
    payable, fee = apportion.settlement(subtotal)
    while kept:
        goods_before = sum(kept)
        kept.pop()
        goods = sum(kept)
        refund = apportion.refund_fen(subtotal, total, total - refunded, goods)
        assert refund >= 0
        refunded += refund
        assert total - refunded == apportion.consumer_cost(subtotal, total, goods)
        back_payable, back_fee = apportion.settlement_reversal(payable, fee, goods)
        assert back_payable >= 0 and back_fee >= 0 and goods_before >= goods
        payable, fee = payable - back_payable, fee - back_fee
        assert payable + fee == goods and (payable, fee) == apportion.settlement(goods)
    assert (refunded, payable, fee) == (total, 0, 0)
