"""Rewards for 先用后付 orders paid on time, called as the collection code would."""

from __future__ import annotations

import pytest

from chalicelib import errors, ledger
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.db import Tx
from chalicelib.ledger import PLATFORM, Leg
from chalicelib.models.coupons import Coupon
from chalicelib.models.ledger import Entry
from chalicelib.models.users import User
from chalicelib.services import accounts, rewards
from tests.conftest import Api
from tests.support.fulfilment import MERCHANT, place, product, ship  # noqa: F401  (product is a fixture)
from tests.support.wallet import balance, earn, paid_order, refund


def test_on_time_payment_earns_a_point_per_whole_yuan(api: Api) -> None:
    order = earn("u-points", 12_345)
    assert balance("u-points", ledger.POINTS) == 123
    legs = {
        (e.account.split("#")[0], e.book): int(e.amount)
        for account in (
            ledger.user_account("u-points"),
            ledger.physical_account(PLATFORM, f"order:{order.order_id}:points_earned"),
        )
        for e in Entry.query(account)
    }
    assert legs == {("user", "points"): 123, ("platform", "points_issued"): -123}
    assert accounts.get("u-points").on_time_paid_count == 1
    wallet = api.get("/v1/wallet", as_="u-points").json
    assert wallet["points"] == 123 and wallet["redeemable_fen"] == 123


def test_the_same_payment_cannot_earn_twice() -> None:
    order = earn("u-twice", 5_000)
    tx = Tx()
    rewards.on_paid_on_time(tx, order, clock.now()).apply(tx, accounts.get("u-twice"))
    with pytest.raises(errors.DomainError) as err:
        tx.commit()
    assert err.value.code == "event_already_posted"
    assert balance("u-twice", ledger.POINTS) == 50


def test_orders_paid_with_other_methods_earn_nothing() -> None:
    accounts.get_or_create("u-alipay", clock.now())
    order = paid_order("u-alipay", 10_000, method="alipay")
    tx = Tx()
    change = rewards.on_paid_on_time(tx, order, clock.now())
    tx.commit()
    assert change.actions == [] and balance("u-alipay", ledger.POINTS) == 0


def test_the_reward_merges_into_the_callers_own_user_update() -> None:
    accounts.get_or_create("u-merge", clock.now())
    user = accounts.get("u-merge")
    user.update(actions=[User.unpaid_bnpl_count.set(1)])
    order = paid_order("u-merge", 2_000)
    tx = Tx()
    change = rewards.on_paid_on_time(tx, order, clock.now(), user=user)
    actions, condition = change.merged([User.unpaid_bnpl_count.add(-1)], User.unpaid_bnpl_count == 1)
    tx.update(user, actions, condition=condition)
    tx.commit()
    after = accounts.get("u-merge")
    assert (after.unpaid_bnpl_count, after.on_time_paid_count) == (0, 1)


def test_a_stale_user_read_fails_the_whole_transaction() -> None:
    accounts.get_or_create("u-stale", clock.now())
    stale = accounts.get("u-stale")
    earn("u-stale", 1_000)
    tx = Tx()
    rewards.on_paid_on_time(tx, paid_order("u-stale", 1_000), clock.now(), user=stale).apply(tx, stale)
    with pytest.raises(errors.DomainError):
        tx.commit()
    assert balance("u-stale", ledger.POINTS) == 10 and accounts.get("u-stale").on_time_paid_count == 1


def test_every_third_on_time_order_raises_the_credit_limit_with_the_release_in_one_transaction(
    activated_user: str,
) -> None:
    rules = settings().rules
    uid = activated_user
    for _ in range(rules.credit_step_every_on_time - 1):
        earn(uid, 1_000)
    assert ledger.balances(ledger.user_account(uid))[ledger.CREDIT].limit == rules.credit_start_fen
    # The third order: credit reserved at checkout, released when paid, in the payment tx.
    order = paid_order(uid, 30_000)
    reserve = Tx()
    credit = [Leg(ledger.user_account(uid), ledger.CREDIT, 30_000), Leg(PLATFORM, "credit_extended", -30_000)]
    ledger.post(
        reserve, event_id=f"order:{order.order_id}:credit_reserved", kind="credit_reserved", at=clock.now(), legs=credit
    )
    reserve.commit()
    pay = Tx()
    ledger.post(
        pay,
        event_id=f"order:{order.order_id}:credit_released",
        kind="credit_released",
        at=clock.now(),
        legs=[Leg(leg.account, leg.book, -leg.amount) for leg in credit],
    )
    rewards.on_paid_on_time(pay, order, clock.now()).apply(pay, accounts.get(uid))
    pay.commit()
    book = ledger.balances(ledger.user_account(uid))[ledger.CREDIT]
    assert (book.limit, book.balance, book.headroom) == (rules.credit_start_fen + rules.credit_step_fen, 0, book.limit)


def test_the_credit_limit_stops_at_the_maximum(activated_user: str) -> None:
    rules = settings().rules
    steps_to_max = (rules.credit_max_fen - rules.credit_start_fen) // rules.credit_step_fen
    for _ in range((steps_to_max + 1) * rules.credit_step_every_on_time):
        earn(activated_user, 100)
    assert ledger.balances(ledger.user_account(activated_user))[ledger.CREDIT].limit == rules.credit_max_fen


def test_a_coupon_is_issued_once_after_n_on_time_orders() -> None:
    rules = settings().rules
    for _ in range(rules.on_time_coupon_after - 1):
        earn("u-coupon", 100)
    assert [c.rule for c in Coupon.query("u-coupon")] == []
    earn("u-coupon", 100)
    earn("u-coupon", 100)
    coupons = list(Coupon.query("u-coupon"))
    assert [(c.rule, c.discount_fen, c.min_spend_fen) for c in coupons] == [
        (f"on_time_{rules.on_time_coupon_after}", rules.on_time_coupon_fen, rules.on_time_coupon_min_spend_fen)
    ]


def test_a_refund_reverses_the_points_of_the_refunded_yuan() -> None:
    order = earn("u-refund", 10_000)
    refund(order, 2_550)
    assert balance("u-refund", ledger.POINTS) == 74  # of the ¥74.50 still paid for
    refund(order, 7_450)
    assert balance("u-refund", ledger.POINTS) == 0
    kinds = sorted(e.event_kind for e in Entry.query(ledger.user_account("u-refund")))
    assert kinds == ["points_earned", "points_reversed", "points_reversed"]


def test_partial_refunds_never_reverse_more_than_was_earned() -> None:
    order = earn("u-partial", 999)  # 9 points
    for _ in range(3):
        refund(order, 333)
    assert balance("u-partial", ledger.POINTS) == 0
    assert balance("u-partial", ledger.POINTS_OWED) == 0


def test_a_refund_after_the_points_were_spent_books_the_shortfall_and_later_earnings_settle_it() -> None:
    order = earn("u-spent", 10_000)
    spend = Tx()
    account = ledger.user_account("u-spent")
    ledger.post(
        spend,
        event_id="test:hold",
        kind="redemption_held",
        at=clock.now(),
        legs=[Leg(account, ledger.POINTS, -80), Leg(account, ledger.POINTS_HELD, 80)],
    )
    spend.commit()
    refund(order, 10_000)
    assert balance("u-spent", ledger.POINTS) == 0
    assert balance("u-spent", ledger.POINTS_OWED) == -80
    earn("u-spent", 5_000)  # 50 points, all owed back
    assert (balance("u-spent", ledger.POINTS), balance("u-spent", ledger.POINTS_OWED)) == (0, -30)
    earn("u-spent", 5_000)
    assert (balance("u-spent", ledger.POINTS), balance("u-spent", ledger.POINTS_OWED)) == (20, 0)


def test_a_refund_of_an_order_that_earned_nothing_changes_nothing() -> None:
    accounts.get_or_create("u-none", clock.now())
    order = paid_order("u-none", 10_000)
    refund(order, 10_000)
    assert list(Entry.query(ledger.user_account("u-none"))) == []


def test_a_return_of_an_order_paid_on_time_takes_its_points_back(
    api: Api, activated_user: str, request: pytest.FixtureRequest
) -> None:
    goods = request.getfixturevalue("product")
    from chalicelib.models.orders import PAID, Order

    uid = activated_user
    oid = place(api, uid, goods, qty=(1, 0))  # 39.90 yuan
    ship(api, oid)
    api.post(f"/v1/orders/{oid}/receipt", as_=uid)
    # Paid on time, the way collection does it: order paid and rewards in one transaction.
    order = Order.get(oid)
    tx = Tx()
    tx.update(order, [Order.status.set(PAID), Order.paid_on_time.set(True)], condition=Order.status == order.status)
    rewards.on_paid_on_time(tx, order, clock.now()).apply(tx, accounts.get(uid))
    tx.commit()
    assert balance(uid, ledger.POINTS) == 39
    r = api.post(f"/v1/orders/{oid}/return-requests", {"reason": "不合适"}, as_=uid)
    assert r.status_code == 201, r.json
    d = api.post(
        f"/v1/merchant/return-requests/{r.json['request_id']}/decision",
        {"decision": "approve", "note": "ok"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert d.status_code == 200, d.json
    assert balance(uid, ledger.POINTS) == 0
    kinds = [e["kind"] for e in api.get("/v1/wallet/entries?kind=points", as_=uid).json["items"]]
    assert kinds == ["points_reversed", "points_earned"]
