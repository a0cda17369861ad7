"""Account closure against every action that opens something for the user (SPEC "Account
closure and after-sale limits"): whichever commits first wins, the other is a 409, and a
closed account never has anything open.

Each race runs closure and the opening action in two threads that both read before either
writes (`racing_transactions`): the interleaving an attacker got with requests a few ms
apart, made certain. The services are called directly (chalice.test.Client shares one
current request between threads)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib import errors, ledger
from chalicelib.clock import clock, iso
from chalicelib.config import settings
from chalicelib.models import orders as o
from chalicelib.models.orders import Order
from chalicelib.models.redemptions import OPEN as OPEN_REDEMPTIONS
from chalicelib.models.redemptions import Redemption
from chalicelib.models.users import User
from chalicelib.services import checkout, privacy, redemption
from chalicelib.services.aftersale import disputes, requests
from chalicelib.services.checkout import Line
from tests.conftest import Api, new_key
from tests.support.aftersale import rejected
from tests.support.fulfilment import MERCHANT, place, ship
from tests.support.fulfilment import product as product  # noqa: F401  (the fixture)
from tests.support.shopping import ADDRESS, confirming, racing_transactions, run_together
from tests.support.wallet import earn

LOSING_CODES = {"account_closing", "account_not_closable"}


def race(user_id: str, opening: Callable[[], Any]) -> tuple[Any, Any]:
    """Closure and `opening` in a forced interleaving: exactly one wins, the other a 409."""

    def close() -> Any:
        return privacy.close(user_id, clock.now())

    with racing_transactions(2, first_only=True):
        closed, opened = run_together(close, opening)
    results = [closed, opened]
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    loser = next(r for r in results if isinstance(r, Exception))
    assert isinstance(loser, errors.Conflict) and loser.code in LOSING_CODES, loser
    assert_closed_means_nothing_open(user_id)
    return closed, opened


def assert_closed_means_nothing_open(user_id: str) -> None:
    user = User.get(user_id, consistent_read=True)
    assert not user.closing_id, "a closure's marker outlived it"
    if not user.closed_at:
        return
    mine = list(Order.by_user.query(user_id))
    assert not [x.order_id for x in mine if x.status in privacy.OPEN_ORDER_STATUSES or x.pending_return_id]
    assert not [r for r in Redemption.by_user.query(user_id) if r.status in OPEN_REDEMPTIONS]
    assert int(user.unpaid_bnpl_count or 0) == 0
    books = ledger.balances(ledger.user_account(user_id))
    assert all(int(books[k].balance or 0) == 0 for k in (ledger.CASH, ledger.CREDIT) if k in books)


def paid_and_received(api: Api, user: str, product: dict[str, Any]) -> str:
    """An order delivered and paid for: nothing keeps the account open, returns still may."""
    order_id = place(api, user, product)
    assert ship(api, order_id).status_code == 200
    assert api.post(f"/v1/orders/{order_id}/receipt", as_=user).status_code == 200
    r = api.post(f"/v1/orders/{order_id}/payments", {"channel": "card"}, as_=user, idem=new_key())
    assert r.status_code < 300, r.json
    return order_id


def test_a_checkout_and_a_closure_exclude_each_other(api: Api, activated_user: str, product: dict[str, Any]) -> None:
    sku = product["skus"][0]["sku_id"]

    def buy() -> Any:
        return checkout.checkout(
            activated_user,
            items=[Line(sku, 1)],
            from_cart=False,
            payment_method=o.BNPL,
            coupon_id=None,
            address=ADDRESS,
            now=clock.now(),
        )

    race(activated_user, buy)


@pytest.mark.parametrize("method", [o.BNPL, "card"])
def test_a_confirmation_during_a_closure_is_refused_and_one_before_it_refuses_the_closure(
    api: Api, activated_user: str, product: dict[str, Any], method: str
) -> None:
    body = {"items": [{"sku_id": product["skus"][0]["sku_id"], "quantity": 1}], "payment_method": method}
    r = api.post("/v1/checkout", {**body, "address": ADDRESS}, as_=activated_user, idem=new_key())
    order = r.json["orders"][0]

    confirm = confirming(activated_user, order)

    # A closure between its marker and its commit: the confirmation cannot reserve credit.
    User(activated_user).update(actions=[User.closing_id.set("cls_x"), User.closing_at.set(iso(clock.now()))])
    with pytest.raises(errors.Conflict) as refused:
        confirm()
    assert refused.value.code == "account_closing"
    assert Order.get(order["order_id"]).status == o.AWAITING_CONFIRMATION
    User(activated_user).update(actions=[User.closing_id.remove(), User.closing_at.remove()])
    # Both at once: the order awaiting confirmation is open, so the closure is the one refused.
    closed, confirmed = run_together(lambda: privacy.close(activated_user, clock.now()), confirm)
    assert isinstance(closed, errors.Conflict) and closed.code == "account_not_closable", closed
    assert not isinstance(confirmed, Exception), confirmed
    assert_closed_means_nothing_open(activated_user)


def test_a_redemption_and_a_closure_exclude_each_other(api: Api, activated_user: str) -> None:
    earn(activated_user, 10_000)
    clock.advance(settings().rules.redemption_min_account_age_seconds + 60)
    # Points are forfeited at closure; the redemption would turn them into cash on a closed account.
    user = activated_user

    def redeem() -> Any:
        return redemption.request(user, amount_fen=100, points=None, now=clock.now())

    _, redeemed = race(user, redeem)
    if not isinstance(redeemed, Exception):
        assert int(User.get(user, consistent_read=True).open_redemptions or 0) == 1


def test_a_return_request_and_a_closure_exclude_each_other(
    api: Api, activated_user: str, product: dict[str, Any]
) -> None:
    order_id = paid_and_received(api, activated_user, product)

    def ask() -> Any:
        return requests.request_return(activated_user, order_id, "不合适", None, clock.now())

    race(activated_user, ask)


def test_an_escalation_and_a_closure_exclude_each_other(api: Api, activated_user: str, product: dict[str, Any]) -> None:
    order_id = paid_and_received(api, activated_user, product)
    rejected(api, activated_user, order_id)

    def escalate() -> Any:
        return disputes.escalate(activated_user, order_id, "商品有质量问题", clock.now())

    race(activated_user, escalate)


def test_closure_waits_for_a_card_refund_the_gateway_has_not_confirmed(
    api: Api, activated_user: str, product: dict[str, Any]
) -> None:
    order_id = paid_and_received(api, activated_user, product)
    r = api.post(f"/v1/orders/{order_id}/return-requests", {"reason": "不合适"}, as_=activated_user)
    assert r.status_code == 201, r.json
    body = {"decision": "approve", "note": ""}
    m = {"as_": MERCHANT, "roles": ["merchant"]}
    assert api.post(f"/v1/merchant/return-requests/{r.json['request_id']}/decision", body, **m).status_code == 200
    r = api.post("/v1/me/closure", as_=activated_user)
    assert r.status_code == 409 and r.json["code"] == "account_not_closable", r.json
    assert [e["field"] for e in r.json["errors"]] == ["pending_refunds"]


def test_an_opening_action_during_a_closure_gets_account_closing(api: Api, activated_user: str) -> None:
    earn(activated_user, 10_000)
    clock.advance(settings().rules.redemption_min_account_age_seconds + 60)
    User(activated_user).update(actions=[User.closing_id.set("cls_x"), User.closing_at.set(iso(clock.now()))])
    r = api.post("/v1/wallet/redemptions", {"amount_fen": 100}, as_=activated_user, idem=new_key())
    assert r.status_code == 409 and r.json["code"] == "account_closing", r.json
    r = api.post("/v1/me/closure", as_=activated_user)
    assert r.status_code == 409 and r.json["code"] == "account_closing", r.json
