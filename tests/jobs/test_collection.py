"""Paying 先用后付 orders (guide 第五步): pay now in the window or when overdue, the auto-debit
when the window closes, declines and daily retries, timeouts, freezes, reminders, credit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import ledger, schedules, timers
from chalicelib.clock import clock, iso, parse_iso
from chalicelib.config import settings
from chalicelib.models.ledger import Balance, Entry
from chalicelib.models.notifications import Notification
from chalicelib.models.orders import Order
from chalicelib.models.timers import Timer
from chalicelib.models.users import User
from tests.conftest import Api
from tests.support import channel_sim as sim
from tests.support.collection import (
    PRICE,
    attempts,
    close_windows,
    credit,
    order,
    pay,
    received_order,
    timers_of,
    to_the_close,
    use_card,
    user,
)
from tests.support.payments import assert_balanced, platform_book, post_alipay, post_raw
from tests.support.shopping import (
    MERCHANT,
    checkout,
    confirm,
    create_product,
    racing_transactions,
    run_together,
    sku_ids,
)

DAY = 86_400


# --- the story so far: a received 先用后付 order ---------------------------------------------


def kinds(user_id: str) -> list[str]:
    return [n.kind for n in sorted(Notification.query(user_id), key=lambda n: n.created_key)]


def top_up(user_id: str, amount: int) -> None:
    """Wallet cash the way a redemption credits it (rewards expense against cash)."""
    from chalicelib.db import Tx

    tx = Tx()
    ledger.post(
        tx,
        event_id=f"test-topup:{uuid.uuid4().hex}",
        kind="redemption_credited",
        at=clock.now(),
        legs=[
            ledger.Leg(ledger.user_account(user_id), ledger.CASH, amount),
            ledger.Leg(ledger.PLATFORM, "rewards_expense", -amount),
        ],
    )
    tx.commit()


def overdue_order(api: Api, user_id: str, price: int = PRICE) -> str:
    """A received order whose collection was declined (the user's default card declines)."""
    use_card(api, user_id, "0002")
    order_id = received_order(api, user_id, price)
    to_the_close(order_id)
    assert close_windows()["declined"] == 1
    assert order(order_id).status == "overdue"
    return order_id


# --- the window closes: auto-debit -------------------------------------------------------------


def test_nothing_is_charged_while_the_window_is_open(api: Api, activated_user: str) -> None:
    order_id = received_order(api, activated_user)
    clock.advance(settings().rules.payment_window_seconds - 60)
    assert close_windows()["processed"] == 0
    assert attempts(order_id) == []
    assert order(order_id).status == "received"


def test_the_window_closes_and_the_default_card_pays_the_order(api: Api, activated_user: str) -> None:
    order_id = received_order(api, activated_user)
    assert credit(activated_user).balance == PRICE
    to_the_close(order_id)
    result = close_windows()
    assert (result["processed"], result["paid"]) == (1, 1)
    paid = order(order_id)
    assert (paid.status, paid.paid_channel, paid.paid_on_time) == ("paid", "card", True)
    assert int(paid.amount_due_fen) == 0 and int(paid.credit_reserved_fen) == 0
    assert credit(activated_user).balance == 0 and credit(activated_user).headroom == credit(activated_user).limit
    me = user(activated_user)
    assert (me.unpaid_bnpl_count, me.on_time_paid_count, me.bnpl_status) == (0, 1, "active")
    [attempt] = attempts(order_id)
    assert (attempt.purpose, attempt.status, attempt.collection_round) == ("collection", "succeeded", 1)
    assert platform_book("clearing_card") == PRICE and platform_book("credit_extended") == 0
    assert_balanced()
    assert kinds(activated_user)[-1] == "payment_succeeded"
    assert [h["actor"] for h in paid.history][-1] == "system"
    view = api.get(f"/v1/orders/{order_id}", as_=activated_user).json
    assert (view["status"], view["amount_due_fen"], view["paid_channel"], view["paid_on_time"]) == (
        "paid",
        0,
        "card",
        True,
    )
    assert view["collection_attempts"] == 1
    assert close_windows()["processed"] == 0  # the check timer went with the settlement
    assert timers_of("payment_due", order_id) == []
    # the order completes once the window it was paid in is over
    assert schedules.run("complete_orders", clock.now())["processed"] == 1
    assert order(order_id).status == "completed"


def test_a_declined_collection_makes_the_order_overdue_and_freezes_bnpl(api: Api, activated_user: str) -> None:
    use_card(api, activated_user, "0002")
    order_id = received_order(api, activated_user)
    to_the_close(order_id)
    assert close_windows()["declined"] == 1
    overdue = order(order_id)
    assert (overdue.status, int(overdue.amount_due_fen), overdue.collection_attempts) == ("overdue", PRICE, 1)
    me = user(activated_user)
    assert (me.bnpl_status, me.overdue_open_count, me.unpaid_bnpl_count) == ("frozen", 1, 1)
    assert credit(activated_user).balance == PRICE  # still owed
    assert kinds(activated_user)[-1] == "payment_overdue"
    [retry] = timers_of("collection_retry", order_id)
    assert retry.data == {"round": 2}
    assert parse_iso(retry.due_at) == clock.now() + timedelta(seconds=settings().rules.collection_retry_seconds)
    # frozen: no new 先用后付 orders until it is paid
    product = create_product(api)
    r = checkout(api, activated_user, [(sku_ids(product)[0], 1)])
    assert (r.status_code, r.json["code"]) == (409, "bnpl_frozen")
    assert platform_book("clearing_card") == 0


@pytest.mark.parametrize("last4, code", [("0002", "card_declined"), ("0005", "insufficient_funds")])
def test_collection_is_retried_daily_seven_times_then_stops(
    api: Api, activated_user: str, last4: str, code: str
) -> None:
    use_card(api, activated_user, last4)
    order_id = received_order(api, activated_user)
    to_the_close(order_id)
    close_windows()
    retries = settings().rules.collection_max_retries
    for _ in range(retries):
        clock.advance(settings().rules.collection_retry_seconds)
        result = close_windows()
        assert (result["retries_processed"], result["declined"]) == (1, 1)
    tried = attempts(order_id)
    assert len(tried) == 1 + retries
    assert [a.collection_round for a in tried] == list(range(1, retries + 2))
    assert {(a.status, a.failure_code) for a in tried} == {("failed", code)}
    assert timers_of("collection_retry", order_id) == []
    clock.advance(5 * settings().rules.collection_retry_seconds)
    assert close_windows()["processed"] == 0
    assert len(attempts(order_id)) == 1 + retries
    assert order(order_id).status == "overdue" and user(activated_user).overdue_open_count == 1
    assert kinds(activated_user).count("payment_overdue") == 1 + retries


def test_a_retry_that_succeeds_pays_the_overdue_order_late_and_lifts_the_freeze(api: Api, activated_user: str) -> None:
    order_id = overdue_order(api, activated_user)
    use_card(api, activated_user, "1111")  # a card that pays
    clock.advance(settings().rules.collection_retry_seconds)
    result = close_windows()
    assert (result["retries_processed"], result["paid"]) == (1, 1)
    paid = order(order_id)
    assert (paid.status, paid.paid_on_time) == ("paid", False)
    assert api.get("/v1/wallet", as_=activated_user).json["points"] == 0  # paid late: no points
    me = user(activated_user)
    assert (me.bnpl_status, me.overdue_open_count, me.unpaid_bnpl_count, me.on_time_paid_count) == (
        "active",
        0,
        0,
        0,
    )
    assert credit(activated_user).balance == 0
    assert_balanced()
    # paid after the window: the order still completes
    assert schedules.run("complete_orders", clock.now())["processed"] == 1
    assert order(order_id).status == "completed"


def test_a_timed_out_charge_stays_pending_and_a_later_run_asks_the_gateway(api: Api, activated_user: str) -> None:
    use_card(api, activated_user, "0003")  # times out, then the gateway says it succeeded
    order_id = received_order(api, activated_user)
    to_the_close(order_id)
    assert close_windows()["pending"] == 1
    [attempt] = attempts(order_id)
    assert attempt.status == "pending" and order(order_id).status == "received"
    assert close_windows()["processed"] == 0  # nothing due until the check time
    clock.advance(settings().rules.collection_query_seconds)
    close_windows()
    [attempt] = attempts(order_id)  # never a second charge
    assert attempt.status == "succeeded"
    assert order(order_id).status == "paid" and order(order_id).paid_on_time is True
    assert timers_of("payment_due", order_id) == []
    assert platform_book("clearing_card") == PRICE
    assert_balanced()


def test_a_timed_out_charge_the_gateway_then_declines_makes_the_order_overdue(api: Api, activated_user: str) -> None:
    use_card(api, activated_user, "0004")
    order_id = received_order(api, activated_user)
    to_the_close(order_id)
    close_windows()
    clock.advance(settings().rules.collection_query_seconds)
    close_windows()
    [attempt] = attempts(order_id)
    assert (attempt.status, attempt.failure_code) == ("failed", "card_declined")
    assert order(order_id).status == "overdue" and user(activated_user).bnpl_status == "frozen"
    assert [t.data for t in timers_of("collection_retry", order_id)] == [{"round": 2}]
    assert timers_of("payment_due", order_id) == []


def test_the_card_notification_can_settle_a_timed_out_collection_first(api: Api, activated_user: str) -> None:
    use_card(api, activated_user, "0003")
    order_id = received_order(api, activated_user)
    to_the_close(order_id)
    close_windows()
    [attempt] = attempts(order_id)
    body, headers = sim.card_notification(attempt.attempt_id, PRICE)
    assert post_raw(api, "/v1/channels/card/notify", body, headers).status_code == 200
    assert order(order_id).status == "paid"
    clock.advance(settings().rules.collection_query_seconds)
    result = close_windows()
    assert (result["processed"], result["not_owed"]) == (0, 1)
    assert len(attempts(order_id)) == 1


def test_a_pending_pay_now_card_charge_is_asked_about_not_charged_again(api: Api, activated_user: str) -> None:
    use_card(api, activated_user, "0003")
    order_id = received_order(api, activated_user)
    assert pay(api, activated_user, order_id, "card").json["status"] == "pending"
    to_the_close(order_id)
    close_windows()
    [attempt] = attempts(order_id)
    assert (attempt.purpose, attempt.status) == ("pay_now", "succeeded")
    assert order(order_id).status == "paid"


def test_a_user_without_a_card_is_overdue_at_the_close(api: Api, activated_user: str) -> None:
    order_id = received_order(api, activated_user)
    User(activated_user).update(actions=[User.default_card_id.remove()])
    to_the_close(order_id)
    close_windows()
    [attempt] = attempts(order_id)
    assert (attempt.status, attempt.failure_code) == ("failed", "no_bank_card")
    assert order(order_id).status == "overdue"


def test_overlapping_runs_charge_a_closing_window_once(api: Api, activated_user: str) -> None:
    order_id = received_order(api, activated_user)
    to_the_close(order_id)
    with racing_transactions(3, first_only=True):
        results = run_together(*[close_windows] * 3)
    assert all(isinstance(r, dict) for r in results), results
    assert sum(r["processed"] for r in results) == 1
    assert len(attempts(order_id)) == 1
    assert order(order_id).status == "paid"
    assert platform_book("clearing_card") == PRICE
    assert len([e for e in Entry.scan() if e.event_id == f"order:{order_id}:credit_repaid"]) == 2


def test_overlapping_retry_runs_charge_a_retry_once(api: Api, activated_user: str) -> None:
    order_id = overdue_order(api, activated_user)
    clock.advance(settings().rules.collection_retry_seconds)
    with racing_transactions(3, first_only=True):
        results = run_together(*[close_windows] * 3)
    assert sum(r["retries_processed"] for r in results) == 1
    assert len(attempts(order_id)) == 2
    assert user(activated_user).overdue_open_count == 1
    assert [t.data for t in timers_of("collection_retry", order_id)] == [{"round": 3}]


def test_a_pending_return_is_not_charged_and_a_rejected_one_is_collected_at_once(api: Api, activated_user: str) -> None:
    order_id = received_order(api, activated_user)
    r = api.post(f"/v1/orders/{order_id}/return-requests", {"reason": "尺码不合适"}, as_=activated_user)
    assert r.status_code in (200, 201), r.json
    to_the_close(order_id)
    result = close_windows()
    assert (result["processed"], result["not_owed"]) == (0, 1)
    assert attempts(order_id) == [] and order(order_id).status == "return_requested"
    decided = api.post(
        f"/v1/merchant/return-requests/{r.json['request_id']}/decision",
        {"decision": "reject", "note": "商品无问题"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert decided.status_code == 200, decided.json
    assert close_windows()["paid"] == 1
    assert order(order_id).status == "paid"


def test_an_approved_return_leaves_nothing_to_collect(api: Api, activated_user: str) -> None:
    order_id = received_order(api, activated_user)
    r = api.post(f"/v1/orders/{order_id}/return-requests", {"reason": "不想要了"}, as_=activated_user)
    api.post(
        f"/v1/merchant/return-requests/{r.json['request_id']}/decision",
        {"decision": "approve", "note": "同意"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    to_the_close(order_id)
    assert close_windows()["processed"] == 0
    assert attempts(order_id) == []


# --- pay now --------------------------------------------------------------------------------


def settle_in_channel(api: Api, channel: str, payment: dict[str, Any], amount: int) -> None:
    """The user pays in the Alipay / WeChat app; the channel's signed notification arrives."""
    if channel == "alipay":
        r = post_alipay(api, sim.alipay_sign(sim.alipay_params(payment["payment_id"], amount)))
        assert r.status_code == 200 and r.text == "success"
    else:
        body, headers = sim.wechat_notification(sim.wechat_transaction(payment["payment_id"], amount))
        assert post_raw(api, "/v1/channels/wechatpay/notify", body, headers).status_code == 204


def pay_through(api: Api, user_id: str, order_id: str, channel: str, amount: int = PRICE) -> None:
    if channel == "wallet":
        top_up(user_id, amount)
    r = pay(api, user_id, order_id, channel)
    assert r.status_code == 201, r.json
    if channel in ("card", "wallet"):
        assert (r.json["status"], r.json["order_status"]) == ("succeeded", "paid")
    else:
        assert (r.json["status"], r.json["order_status"]) == ("pending", order(order_id).status)
        assert r.json["launch"]
        assert order(order_id).status != "paid"
        settle_in_channel(api, channel, r.json, amount)


CHANNELS = ["card", "wallet", "alipay", "wechat_pay"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_pay_now_in_the_window(api: Api, activated_user: str, channel: str) -> None:
    order_id = received_order(api, activated_user)
    clock.advance(DAY)
    pay_through(api, activated_user, order_id, channel)
    paid = order(order_id)
    assert (paid.status, paid.paid_channel, paid.paid_on_time) == ("paid", channel, True)
    assert credit(activated_user).balance == 0
    me = user(activated_user)
    assert (me.unpaid_bnpl_count, me.on_time_paid_count) == (0, 1)
    assert api.get("/v1/wallet", as_=activated_user).json["points"] == PRICE // 100  # 1 point per yuan
    book = "clearing_wallet" if channel == "wallet" else f"clearing_{channel}"
    assert platform_book(book) == PRICE
    if channel == "wallet":
        assert int(Balance.get(ledger.user_account(activated_user), ledger.CASH).balance) == 0
    assert_balanced()
    assert kinds(activated_user)[-1] == "payment_succeeded"
    # the window's timers went with the payment: nothing to remind of or to charge
    assert timers_of("payment_due", order_id) == [] and timers_of("due_reminder", order_id) == []
    to_the_close(order_id)
    assert close_windows()["processed"] == 0
    assert schedules.run("send_due_reminders", clock.now())["processed"] == 0
    assert schedules.run("complete_orders", clock.now())["processed"] == 1


@pytest.mark.parametrize("channel", CHANNELS)
def test_pay_now_an_overdue_order_lifts_the_freeze(api: Api, activated_user: str, channel: str) -> None:
    order_id = overdue_order(api, activated_user)
    if channel == "card":
        use_card(api, activated_user, "1111")
    pay_through(api, activated_user, order_id, channel)
    paid = order(order_id)
    assert (paid.status, paid.paid_on_time) == ("paid", False)
    assert api.get("/v1/wallet", as_=activated_user).json["points"] == 0  # paid late: no points
    me = user(activated_user)
    assert (me.bnpl_status, me.overdue_open_count, me.unpaid_bnpl_count, me.on_time_paid_count) == (
        "active",
        0,
        0,
        0,
    )
    assert_balanced()
    # the retry finds nothing owed
    clock.advance(settings().rules.collection_retry_seconds)
    assert close_windows()["retries_processed"] == 0
    assert len([a for a in attempts(order_id) if a.purpose == "collection"]) == 1


def test_the_freeze_lifts_only_when_the_last_overdue_order_is_paid(api: Api, activated_user: str) -> None:
    use_card(api, activated_user, "0002")
    first = received_order(api, activated_user)
    second = received_order(api, activated_user, price=PRICE + 100)
    to_the_close(second)
    assert close_windows()["declined"] == 2
    assert user(activated_user).overdue_open_count == 2
    pay_through(api, activated_user, first, "wallet")
    me = user(activated_user)
    assert (me.bnpl_status, me.overdue_open_count) == ("frozen", 1)
    pay_through(api, activated_user, second, "wallet", PRICE + 100)
    me = user(activated_user)
    assert (me.bnpl_status, me.overdue_open_count, me.unpaid_bnpl_count) == ("active", 0, 0)


def test_a_decline_landing_while_the_last_overdue_order_is_paid_keeps_the_user_frozen(
    api: Api, activated_user: str
) -> None:
    """The payment read one overdue order; another order's collection declines before the
    payment commits. The freeze is lifted on the count read, so the payment must re-read."""
    import json

    from chalicelib.db import connection

    use_card(api, activated_user, "0002")
    first = received_order(api, activated_user)
    clock.advance(DAY // 2)  # its window closes before the first's retry
    second = received_order(api, activated_user)
    to_the_close(first)
    close_windows()
    to_the_close(second)
    top_up(activated_user, PRICE)
    declined: list[dict[str, Any]] = []

    def decline_meanwhile(params: dict[str, Any], **_: Any) -> None:
        if not declined and "credit_repaid" in json.dumps(params.get("TransactItems", []), default=str):
            declined.append(close_windows())

    client = connection().client
    client.meta.events.register(
        "before-parameter-build.dynamodb.TransactWriteItems", decline_meanwhile, unique_id="interleave"
    )
    try:
        r = pay(api, activated_user, first, "wallet")
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.TransactWriteItems", unique_id="interleave")
    assert declined[0]["declined"] == 1
    assert (r.status_code, r.json["code"]) == (409, "state_changed")
    assert order(first).status == "overdue" and user(activated_user).overdue_open_count == 2
    assert pay(api, activated_user, first, "wallet").status_code == 201  # the app retries
    assert order(first).status == "paid" and order(second).status == "overdue"
    me = user(activated_user)
    assert (me.bnpl_status, me.overdue_open_count, me.unpaid_bnpl_count) == ("frozen", 1, 1)
    assert_balanced()


def test_pay_now_is_refused_before_receipt_and_during_a_return(api: Api, activated_user: str) -> None:
    product = create_product(api)
    placed = checkout(api, activated_user, [(sku_ids(product)[0], 1)]).json["orders"][0]
    confirm(api, activated_user, placed)
    r = pay(api, activated_user, placed["order_id"], "card")
    assert (r.status_code, r.json["code"]) == (409, "illegal_transition")
    order_id = received_order(api, activated_user)
    api.post(f"/v1/orders/{order_id}/return-requests", {"reason": "坏了"}, as_=activated_user)
    r = pay(api, activated_user, order_id, "wallet")
    assert (r.status_code, r.json["code"]) == (409, "illegal_transition")


def test_pay_now_after_a_partial_return_pays_what_is_still_due(api: Api, activated_user: str) -> None:
    product = create_product(
        api,
        skus=[
            {"attributes": {"颜色": "黑"}, "price_fen": 3_000, "stock": 5},
            {"attributes": {"颜色": "白"}, "price_fen": 2_000, "stock": 5},
        ],
    )
    black, white = sku_ids(product)
    placed = checkout(api, activated_user, [(black, 1), (white, 1)]).json["orders"][0]
    order_id = placed["order_id"]
    confirm(api, activated_user, placed)
    api.post(
        f"/v1/merchant/orders/{order_id}/shipment",
        {"carrier": "SF", "tracking_number": "SF1234567890"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user)
    r = api.post(
        f"/v1/orders/{order_id}/return-requests",
        {"reason": "白色不喜欢", "items": [{"sku_id": white, "quantity": 1}]},
        as_=activated_user,
    )
    api.post(
        f"/v1/merchant/return-requests/{r.json['request_id']}/decision",
        {"decision": "approve", "note": "ok"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert int(order(order_id).amount_due_fen) == 3_000
    r = pay(api, activated_user, order_id, "card")
    assert (r.json["amount_fen"], r.json["order_status"]) == (3_000, "paid")
    assert credit(activated_user).balance == 0
    assert_balanced()


# --- credit ---------------------------------------------------------------------------------


def test_three_on_time_payments_raise_the_credit_limit(api: Api, activated_user: str) -> None:
    rules = settings().rules
    start = int(credit(activated_user).limit)
    assert start == rules.credit_start_fen
    for n in range(1, 4):
        order_id = received_order(api, activated_user, price=1_000)
        pay_through(api, activated_user, order_id, "card", 1_000)
        expected = start + (rules.credit_step_fen if n == rules.credit_step_every_on_time else 0)
        assert int(credit(activated_user).limit) == expected
    after = credit(activated_user)
    assert int(after.headroom) == int(after.limit) - int(after.balance)
    assert user(activated_user).on_time_paid_count == 3
    w = api.get("/v1/wallet", as_=activated_user).json
    assert w["credit"]["limit_fen"] == start + rules.credit_step_fen


def test_late_payments_do_not_count_toward_the_limit(api: Api, activated_user: str) -> None:
    for _ in range(3):
        order_id = overdue_order(api, activated_user, price=1_000)
        pay_through(api, activated_user, order_id, "wallet", 1_000)
    assert int(credit(activated_user).limit) == settings().rules.credit_start_fen
    assert user(activated_user).on_time_paid_count == 0


# --- reminders ------------------------------------------------------------------------------


def test_a_reminder_one_day_before_the_window_closes(api: Api, activated_user: str) -> None:
    order_id = received_order(api, activated_user)
    due = parse_iso(order(order_id).due_at)
    lead = settings().rules.due_reminder_lead_seconds
    clock.advance((due - clock.now()).total_seconds() - lead - 60)
    assert schedules.run("send_due_reminders", clock.now())["processed"] == 0
    clock.advance(120)
    assert schedules.run("send_due_reminders", clock.now())["processed"] == 1
    assert schedules.run("send_due_reminders", clock.now())["processed"] == 0
    [note] = [n for n in Notification.query(activated_user) if n.kind == "payment_due_soon"]
    assert note.ref == order_id and "¥129.00" in note.body
    page = api.get("/v1/me/notifications", as_=activated_user).json
    assert page["items"][0]["kind"] == "payment_due_soon"


def test_no_reminder_for_an_order_already_paid(api: Api, activated_user: str) -> None:
    order_id = received_order(api, activated_user)
    # paid another way without the reminder timer being cleared (e.g. a race): it checks
    Order(order_id).update(actions=[Order.status.set("paid")])
    to_the_close(order_id, extra=-settings().rules.due_reminder_lead_seconds + 60)
    assert schedules.run("send_due_reminders", clock.now()) == {
        "processed": 0,
        "skipped": 1,
        "failed": 0,
        "complete": 1,
    }
    assert "payment_due_soon" not in kinds(activated_user)


def test_the_jobs_run_from_the_local_dev_route(api: Api) -> None:
    r = api.post("/v1/dev/jobs/close_payment_windows")
    assert r.status_code == 200 and r.json["result"]["complete"] == 1
    assert api.post("/v1/dev/jobs/send_due_reminders").status_code == 200


# --- the sweeper reads only what is due -----------------------------------------------------


def _clients() -> list[Any]:
    from chalicelib.db import connection
    from chalicelib.models.registry import all_models

    clients = [connection().client]
    for model in all_models():
        client = model._get_connection().connection.client
        if all(client is not c for c in clients):
            clients.append(client)
    return clients


@contextmanager
def per_item_transaction_backups() -> Iterator[None]:
    """Make moto's transactions affordable with 20,000 items in the tables.

    moto backs up every table a transaction touches (a deep copy, once per operation)
    to roll back a failed one: seconds per transaction here. This backs up only the items
    the transaction touches and restores those, which is the same rollback.
    """
    import copy

    import moto.dynamodb.models as moto_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items

    class TablesNotCopied:
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def transact(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for item in transact_items:
            _, op = next(iter(item.items()))
            table = self.get_table(op["TableName"])
            if "Item" in op:
                key = {a: op["Item"][a] for a in (table.hash_key_attr, table.range_key_attr) if a}
            else:
                key = op["Key"]
            saved.append((op["TableName"], key, copy.deepcopy(self.get_item(op["TableName"], key))))
        try:
            original(self, transact_items)
        except Exception:
            for table_name, key, before in reversed(saved):
                if before is None:
                    self.get_table(table_name).delete_item(*self.get_keys_value(self.get_table(table_name), key))
                else:
                    self.put_item(table_name, before.to_json()["Attributes"])
            raise

    moto_models.copy = TablesNotCopied  # type: ignore[assignment]
    DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]
    try:
        yield
    finally:
        moto_models.copy = copy  # type: ignore[assignment]
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


def test_the_sweeper_reads_only_the_due_orders_of_ten_thousand(activated_user: str, rules: Any) -> None:
    from collections import Counter

    rules(sweep_max_seconds=600)  # reads are measured here, not a loaded machine's moto against the budget

    from chalicelib.db import Tx

    total, due_share = 10_000, 100
    now = clock.now()
    open_at, closed_at = now + timedelta(days=3), now - timedelta(minutes=3)
    amount = 100
    template = dict(
        checkout_id="co_bulk",
        user_id=activated_user,
        merchant_id=MERCHANT,
        status="received",
        payment_method="bnpl",
        items=[],
        subtotal_fen=amount,
        total_fen=amount,
        amount_due_fen=amount,
        credit_reserved_fen=amount,
        address={},
        created_at="2026-11-01T00:00:00Z",
        updated_at="2026-11-01T00:00:00Z",
        received_at="2026-11-18T08:00:00Z",
    )
    due_ids = []
    with Order.batch_write() as orders_batch, Timer.batch_write() as timers_batch:
        for i in range(total):
            order_id = f"o_bulk{i:05d}"
            due = closed_at if i % (total // due_share) == 0 else open_at
            if due == closed_at:
                due_ids.append(order_id)
            orders_batch.save(Order(order_id, created_key=f"x#{order_id}", due_at=iso(due), **template))
            timers_batch.save(timers.timer(timers.PAYMENT_DUE, order_id, due))
    for order_id in due_ids:  # the credit the due orders hold, through the ledger
        tx = Tx()
        ledger.post(
            tx,
            event_id=f"order:{order_id}:credit_reserved",
            kind="credit_reserved",
            at=now,
            legs=[
                ledger.Leg(ledger.user_account(activated_user), ledger.CREDIT, amount),
                ledger.Leg(ledger.PLATFORM, "credit_extended", -amount),
            ],
        )
        tx.commit()
    User(activated_user).update(actions=[User.unpaid_bnpl_count.set(due_share)])

    calls: Counter[str] = Counter()
    items: Counter[str] = Counter()

    def table_of(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["counted_table"] = str(params.get("TableName", "")).rsplit("-", 1)[-1]
        context["counted_index"] = params.get("IndexName")

    def read(parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        table = context.get("counted_table", "?")
        if context.get("counted_index"):
            table += f".{context['counted_index']}"
        calls[f"{model.name} {table}"] += 1
        if model.name in ("Query", "Scan"):
            items[table] += int(parsed.get("ScannedCount", parsed.get("Count", 0)))
        elif model.name == "GetItem" and "Item" in parsed:
            items[table] += 1

    clients = _clients()
    for client in clients:
        client.meta.events.register("before-parameter-build.dynamodb", table_of, unique_id="sweep-table")
        client.meta.events.register("after-call.dynamodb", read, unique_id="sweep-read")
    try:
        with per_item_transaction_backups():
            result = close_windows()
    finally:
        for client in clients:
            client.meta.events.unregister("before-parameter-build.dynamodb", unique_id="sweep-table")
            client.meta.events.unregister("after-call.dynamodb", unique_id="sweep-read")

    print(f"\nclose_payment_windows over {total} orders, {len(due_ids)} due: {result}")
    print(f"items read by table: {dict(sorted(items.items()))}")
    print(f"calls: {dict(sorted(calls.items()))}")
    assert (result["processed"], result["paid"], result["complete"]) == (due_share, due_share, 1)
    assert not any(name.startswith("Scan") for name in calls)
    assert items["timers"] == due_share  # every timer read was a due one
    assert items["orders"] <= 3 * due_share  # each due order read a bounded number of times
    assert sum(items.values()) < total // 5
    assert all(order(o).status == "paid" for o in due_ids[:5])
    assert order("o_bulk00001").status == "received"
    assert credit(activated_user).balance == 0
