"""Switching channel mid-payment (issue 22): a trade of the order still open at Alipay /
WeChat Pay is closed at its channel before another attempt, so the buyer is never charged
twice. Played against the simulated channels (`channels/simulator.py`)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from chalicelib.channels.simulator import CLOSED, SIMULATOR
from chalicelib.models.orders import Order
from chalicelib.models.payments import PaymentAttempt
from tests.conftest import Api
from tests.support import channel_sim as sim
from tests.support.payments import assert_balanced, top_up

AMOUNT = 6_600


def pay(api: Api, user: str, order_id: str, channel: str) -> Any:
    return api.post(f"/v1/orders/{order_id}/payments", {"channel": channel}, as_=user, idem=uuid.uuid4().hex)


def captured(order_id: str) -> list[PaymentAttempt]:
    """Attempts the buyer was charged by (refunded later or not)."""
    return [a for a in PaymentAttempt.by_order.query(order_id) if a.status in ("succeeded", "refunded")]


def launched(api: Api, user: str, channel: str) -> tuple[str, str]:
    """An order awaiting payment whose trade the user opened in the channel's app."""
    order_id = sim.awaiting_payment_order(api, user, AMOUNT, channel)
    r = pay(api, user, order_id, channel)
    assert r.status_code < 300, r.json
    assert SIMULATOR.open(r.json["payment_id"], AMOUNT)
    return order_id, r.json["payment_id"]


@pytest.mark.parametrize(("first", "then"), [("alipay", "card"), ("wechat_pay", "wallet"), ("alipay", "wechat_pay")])
def test_another_channel_closes_the_open_trade_first_and_it_can_no_longer_be_paid(
    api: Api, activated_user: str, first: str, then: str
) -> None:
    order_id, trade = launched(api, activated_user, first)
    top_up(activated_user, AMOUNT)
    r = pay(api, activated_user, order_id, then)
    assert r.status_code < 300, r.json
    assert SIMULATOR.state(trade) == CLOSED
    assert (PaymentAttempt.get(trade).status, PaymentAttempt.get(trade).failure_code) == ("failed", "closed")
    # The user, back in the first app, cannot pay it any more.
    assert SIMULATOR.pay(trade, AMOUNT) is None
    refused = api.post("/v1/dev/payments/notify", {"payment_id": trade})
    assert refused.status_code == 422, refused.json
    if then != "wechat_pay":
        assert Order.get(order_id).status == "paid"
        assert [a.channel for a in captured(order_id)] == [then]
    assert_balanced()


@pytest.mark.parametrize("first", ["alipay", "wechat_pay"])
def test_a_trade_paid_before_the_switch_is_settled_and_the_new_attempt_refused(
    api: Api, activated_user: str, first: str
) -> None:
    """The user paid in the app; its notification is not here yet when they tap card."""
    order_id, trade = launched(api, activated_user, first)
    assert SIMULATOR.pay(trade, AMOUNT)
    r = pay(api, activated_user, order_id, "card")
    assert r.status_code == 409 and r.json["code"] == "payment_in_progress", r.json
    assert Order.get(order_id).status == "paid"  # settled from the channel's query
    assert [a.attempt_id for a in captured(order_id)] == [trade]
    assert [a.channel for a in PaymentAttempt.by_order.query(order_id)] == [first]  # the card was never asked
    late = api.post("/v1/dev/payments/notify", {"payment_id": trade})  # the notification comes: no effect
    assert late.status_code == 200, late.json
    assert [a.attempt_id for a in captured(order_id)] == [trade]
    assert_balanced()


def test_a_close_the_channel_did_not_answer_refuses_the_new_attempt_until_it_does(
    api: Api, activated_user: str
) -> None:
    order_id, trade = launched(api, activated_user, "alipay")
    SIMULATOR.lose_answer(trade, "close")
    r = pay(api, activated_user, order_id, "card")
    assert r.status_code == 409 and r.json["code"] == "payment_in_progress", r.json
    assert [a.channel for a in PaymentAttempt.by_order.query(order_id)] == ["alipay"]
    again = pay(api, activated_user, order_id, "card")  # the close is confirmed this time
    assert again.status_code < 300, again.json
    assert [a.channel for a in captured(order_id)] == ["card"]
    assert SIMULATOR.pay(trade, AMOUNT) is None


# --- the auto-debit at the close of a 先用后付 window is a switch too ---------------------------


@pytest.mark.parametrize("paid_in_app", [False, True])
def test_collection_closes_an_open_pay_now_trade_before_charging_the_card(
    api: Api, activated_user: str, paid_in_app: bool
) -> None:
    from tests.support.collection import attempts, close_windows, received_order, to_the_close

    order_id = received_order(api, activated_user)
    launch = pay(api, activated_user, order_id, "alipay")
    assert launch.status_code < 300, launch.json
    trade, amount = launch.json["payment_id"], launch.json["amount_fen"]
    assert SIMULATOR.open(trade, amount)
    if paid_in_app:
        assert SIMULATOR.pay(trade, amount)  # its notification is not here yet
    to_the_close(order_id)
    close_windows()
    assert Order.get(order_id).status == "paid"
    expected = ["alipay"] if paid_in_app else ["card"]
    assert [a.channel for a in captured(order_id)] == expected
    assert [a.channel for a in attempts(order_id)] == (["alipay"] if paid_in_app else ["alipay", "card"])
    assert SIMULATOR.pay(trade, amount) is (None if not paid_in_app else SIMULATOR.trades[trade].trade_no)
    assert_balanced()


# --- the model-based story, told once by hand (tests/support/model_based.py draws many) -------------------


@pytest.mark.parametrize(
    ("then", "steps"),
    [("card", ["tap", "notify"]), ("wallet", ["pay_in_app", "tap", "notify"]), ("card", ["tap", "pay_in_app"])],
)
def test_the_model_story_of_a_channel_switch_charges_once(api: Api, then: str, steps: list[str]) -> None:
    from tests.support.model_based import MoneyMachine

    MoneyMachine.api = api
    machine = MoneyMachine()
    machine.checkout(user=0, basket=[(0, 1)], method="alipay", use_coupon=False)
    machine.confirm(i=0, twice=False)
    order_id = machine.orders[0][0]
    top_up(machine.users[0], 100_000)
    machine.switch_channel_mid_payment(i=0, first="alipay", then=then, steps=steps)
    assert order_id in machine.switched
    machine.one_captured_payment()
    machine.money_holds()


# --- launching the same WeChat Pay trade again (found by `make soak`, issue 30) ---------------


def test_a_wechat_trade_paid_in_the_app_is_settled_when_launched_again_not_a_500(api: Api, activated_user: str) -> None:
    """The user paid in WeChat; its notification is not here yet when they tap WeChat Pay
    again. WeChat Pay refuses the same out_trade_no (`ORDERPAID`): the payment is settled from
    its query and the tap answered 409 `payment_in_progress` (was a 500, every tap)."""
    order_id, trade = launched(api, activated_user, "wechat_pay")
    assert SIMULATOR.pay(trade, AMOUNT)
    r = pay(api, activated_user, order_id, "wechat_pay")
    assert r.status_code == 409 and r.json["code"] == "payment_in_progress", r.json
    assert Order.get(order_id).status == "paid"
    again = pay(api, activated_user, order_id, "wechat_pay")
    assert again.status_code == 409 and again.json["code"] == "illegal_transition", again.json
    assert [a.attempt_id for a in captured(order_id)] == [trade]
    assert_balanced()


def test_a_wechat_trade_closed_at_the_channel_is_launched_anew(api: Api, activated_user: str) -> None:
    """WeChat Pay closed the trade (its own expiry, or our close whose answer was lost):
    launching it again opens a new trade; the old attempt is failed from the channel's query."""
    order_id, trade = launched(api, activated_user, "wechat_pay")
    assert SIMULATOR.expire(trade, AMOUNT)
    r = pay(api, activated_user, order_id, "wechat_pay")
    assert r.status_code < 300, r.json
    assert r.json["payment_id"] != trade and r.json["launch"]["prepayid"], r.json
    assert PaymentAttempt.get(trade).status == "failed"
    assert SIMULATOR.open(r.json["payment_id"], AMOUNT) and SIMULATOR.pay(r.json["payment_id"], AMOUNT)
    assert captured(order_id) == []  # paid in the app: settled by its notification, not yet here


def test_wechat_not_answering_a_launch_is_a_503_and_the_next_tap_launches(api: Api, activated_user: str) -> None:
    order_id, trade = launched(api, activated_user, "wechat_pay")
    SIMULATOR.lose_answer(trade, "prepay")
    r = pay(api, activated_user, order_id, "wechat_pay")
    assert r.status_code == 503 and r.json["code"] == "temporarily_unavailable", r.json
    assert r.headers.get("Retry-After")
    again = pay(api, activated_user, order_id, "wechat_pay")
    assert again.status_code < 300 and again.json["payment_id"] == trade, again.json
