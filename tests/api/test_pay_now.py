"""Pay now for orders awaiting a channel payment: card, wallet, Alipay, WeChat Pay."""

from __future__ import annotations

import base64
import json
import urllib.parse
import uuid
from datetime import timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from chalicelib import errors, schedules, timers
from chalicelib.channels import wechat_pay
from chalicelib.clock import clock, parse_iso
from chalicelib.config import settings
from chalicelib.ledger import CASH, user_account
from chalicelib.models.ledger import Balance
from chalicelib.models.notifications import Notification
from chalicelib.models.orders import Order
from chalicelib.models.payments import PaymentAttempt
from chalicelib.models.timers import Timer
from chalicelib.models.users import User
from chalicelib.services import payments
from chalicelib.services.webhooks import outbox
from tests.conftest import Api
from tests.support import channel_keys
from tests.support import channel_sim as sim
from tests.support.payments import assert_balanced, platform_book, post_alipay, top_up

AMOUNT = 8_800


def key() -> str:
    return "key-" + uuid.uuid4().hex


def pay(api: Api, user: str, order_id: str, channel: str, idem: str | None = None) -> Any:
    return api.post(f"/v1/orders/{order_id}/payments", {"channel": channel}, as_=user, idem=idem or key())


def status_of(order_id: str) -> str:
    return Order.get(order_id, consistent_read=True).status


def use_card(api: Api, user: str, last4: str) -> None:
    r = api.post("/v1/me/bank-cards", {"card_number": sim.luhn_card("621226", last4)}, as_=user)
    assert r.status_code == 201, r.json
    User(user).update(actions=[User.default_card_id.set(r.json["card_id"])])


def cash(user: str) -> int:
    try:
        return int(Balance.get(user_account(user), CASH).balance)
    except Balance.DoesNotExist:
        return 0


# --- card -------------------------------------------------------------------------------


def test_card_pay_now_charges_the_default_card_and_pays_the_order(api: Api, activated_user: str) -> None:
    order_id = sim.awaiting_payment_order(api, activated_user, AMOUNT, "card")
    r = pay(api, activated_user, order_id, "card")
    assert r.status_code == 201, r.json
    assert r.json["status"] == "succeeded"
    assert r.json["order_status"] == "paid"
    assert r.json["card_last4"] == "3446"
    assert "sbx_" not in str(r.json)  # the gateway token never leaves the server
    assert status_of(order_id) == "paid"
    assert platform_book("clearing_card") == AMOUNT
    assert_balanced()


def test_two_taps_on_pay_now_at_once_charge_the_card_once(api: Api, activated_user: str) -> None:
    """Two requests with different keys at the same moment: one charges, the other is a 409
    `payment_in_progress` (it numbered its attempt from the same view and built the same
    attempt id); before, the second built the next id, the card was charged twice and the
    second charge refunded. Also between a tap and the auto-debit (same numbering)."""
    from tests.support.shopping import atomic_moto, run_together

    for _ in range(3):
        order_id = sim.awaiting_payment_order(api, activated_user, AMOUNT, "card")
        with atomic_moto():
            results = run_together(
                *(lambda o=order_id: payments.pay_now(activated_user, o, "card", clock.now()) for _ in range(2))
            )
        refused = [r for r in results if isinstance(r, Exception)]
        assert all(isinstance(r, errors.Conflict) for r in refused), results  # payment_in_progress or paid
        attempts = list(PaymentAttempt.by_order.query(order_id))
        assert [(a.status, a.outcome) for a in attempts] == [("succeeded", "applied")], attempts
        assert status_of(order_id) == "paid"
    assert platform_book("clearing_card") == 3 * AMOUNT
    assert_balanced()


def test_a_second_tap_that_read_the_order_before_the_first_paid_it_is_not_charged(
    api: Api, activated_user: str
) -> None:
    """Regression (`make soak`): the second tap read the order awaiting payment; the first tap
    paid it before the second read the attempts; the second numbered the next attempt and
    charged the card again (the money then refunded as unapplied). Its attempt is saved only
    while the order is as it read it: 409 `payment_in_progress`, one charge."""
    from tests.support.shopping import two_card_taps

    order_id = sim.awaiting_payment_order(api, activated_user, AMOUNT, "card")
    first, second = two_card_taps(activated_user, order_id)
    assert first.attempt.status == "succeeded"
    assert isinstance(second, errors.Conflict) and second.code == "payment_in_progress", second
    attempts = list(PaymentAttempt.by_order.query(order_id))
    assert [(a.status, a.outcome) for a in attempts] == [("succeeded", "applied")], attempts
    assert platform_book("clearing_card") == AMOUNT
    assert_balanced()


def test_card_pay_now_replays_with_the_same_idempotency_key(api: Api, activated_user: str) -> None:
    order_id = sim.awaiting_payment_order(api, activated_user, AMOUNT, "card")
    k = key()
    first = pay(api, activated_user, order_id, "card", idem=k)
    second = pay(api, activated_user, order_id, "card", idem=k)
    assert second.status_code == 201
    assert second.json == first.json
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(list(PaymentAttempt.by_order.query(order_id))) == 1


def test_declined_card_is_a_402_and_the_order_still_awaits_payment(api: Api, activated_user: str) -> None:
    use_card(api, activated_user, "0002")
    order_id = sim.awaiting_payment_order(api, activated_user, AMOUNT, "card")
    k = key()
    r = pay(api, activated_user, order_id, "card", idem=k)
    assert r.status_code == 402
    assert r.json["code"] == "payment_declined"
    assert status_of(order_id) == "awaiting_payment"
    [attempt] = PaymentAttempt.by_order.query(order_id)
    assert (attempt.status, attempt.failure_code) == ("failed", "card_declined")
    assert pay(api, activated_user, order_id, "card", idem=k).status_code == 402  # replayed, not re-charged
    assert len(list(PaymentAttempt.by_order.query(order_id))) == 1
    assert [n.kind for n in Notification.query(activated_user)] == ["payment_failed"]
    assert platform_book("clearing_card") == 0


def test_card_timeout_is_pending_and_a_retry_asks_the_gateway_instead_of_charging_again(
    api: Api, activated_user: str
) -> None:
    use_card(api, activated_user, "0003")
    order_id = sim.awaiting_payment_order(api, activated_user, AMOUNT, "card")
    first = pay(api, activated_user, order_id, "card")
    assert first.status_code == 201
    assert (first.json["status"], first.json["order_status"]) == ("pending", "awaiting_payment")
    again = pay(api, activated_user, order_id, "card")  # a new key: the user taps again
    assert again.json["payment_id"] == first.json["payment_id"]
    assert (again.json["status"], again.json["order_status"]) == ("succeeded", "paid")
    assert len(list(PaymentAttempt.by_order.query(order_id))) == 1  # never a second charge
    assert platform_book("clearing_card") == AMOUNT


def test_card_timeout_that_the_gateway_later_declines_lets_the_user_try_again(api: Api, activated_user: str) -> None:
    use_card(api, activated_user, "0004")
    order_id = sim.awaiting_payment_order(api, activated_user, AMOUNT, "card")
    first = pay(api, activated_user, order_id, "card")
    assert first.json["status"] == "pending"
    second = pay(api, activated_user, order_id, "card")
    assert second.json["payment_id"] != first.json["payment_id"]
    assert PaymentAttempt.get(first.json["payment_id"]).status == "failed"
    assert second.json["status"] == "pending"


def test_card_pay_now_without_a_card_is_422(api: Api, verified_user: str) -> None:
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "card")
    r = pay(api, verified_user, order_id, "card")
    assert (r.status_code, r.json["code"]) == (422, "no_bank_card")


# --- wallet -----------------------------------------------------------------------------


def test_wallet_pay_now_debits_cash_and_pays_in_one_transaction(api: Api, verified_user: str) -> None:
    top_up(verified_user, 10_000)
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "wallet")
    r = pay(api, verified_user, order_id, "wallet")
    assert r.status_code == 201, r.json
    assert (r.json["status"], r.json["order_status"]) == ("succeeded", "paid")
    assert cash(verified_user) == 10_000 - AMOUNT
    assert platform_book("clearing_wallet") == AMOUNT
    assert_balanced()


def test_wallet_pay_now_with_too_little_cash_changes_nothing(api: Api, verified_user: str) -> None:
    top_up(verified_user, AMOUNT - 1)
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "wallet")
    r = pay(api, verified_user, order_id, "wallet")
    assert (r.status_code, r.json["code"]) == (409, "insufficient_balance")
    assert status_of(order_id) == "awaiting_payment"
    assert cash(verified_user) == AMOUNT - 1
    assert not list(PaymentAttempt.by_order.query(order_id))


# --- Alipay / WeChat Pay ----------------------------------------------------------------


def test_alipay_pay_now_answers_a_signed_order_string(api: Api, verified_user: str) -> None:
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "alipay")
    r = pay(api, verified_user, order_id, "alipay")
    assert r.status_code == 201
    assert r.json["status"] == "pending"
    params = dict(urllib.parse.parse_qsl(r.json["launch"]["order_string"]))
    assert params["method"] == "alipay.trade.app.pay"
    assert '"total_amount":"88.00"' in params["biz_content"]
    assert f'"out_trade_no":"{r.json["payment_id"]}"' in params["biz_content"]
    # request signatures cover every parameter but `sign` (sign_type included)
    content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign")
    channel_keys.ALIPAY_APP.public_key().verify(
        base64.b64decode(params["sign"]), content.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    # the user pays in Alipay; the notification settles it
    notify = sim.alipay_sign(sim.alipay_params(r.json["payment_id"], AMOUNT))
    assert post_alipay(api, notify).status_code == 200
    assert status_of(order_id) == "paid"


def test_channel_trades_carry_the_orders_payment_deadline_and_close_when_it_lapses(
    api: Api, verified_user: str
) -> None:
    """Alipay / WeChat Pay refuse payment after the order's deadline (time_expire, Beijing
    time), and the lapse sweep closes the trade and the attempt."""
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "alipay")
    deadline = Order.get(order_id).payment_expires_at
    r = pay(api, verified_user, order_id, "alipay")
    biz = json.loads(dict(urllib.parse.parse_qsl(r.json["launch"]["order_string"]))["biz_content"])
    beijing = parse_iso(deadline).astimezone(timezone(timedelta(hours=8)))
    assert biz["time_expire"] == beijing.strftime("%Y-%m-%d %H:%M:%S")
    wechat = wechat_pay.prepay_body(payments.payment_ref(PaymentAttempt.get(r.json["payment_id"]), deadline))
    assert wechat["time_expire"] == beijing.isoformat(timespec="seconds")
    clock.advance(settings().rules.checkout_ttl_seconds)
    assert schedules.run("expire_checkouts", clock.now())["processed"] == 1
    assert status_of(order_id) == "cancelled"
    attempt = PaymentAttempt.get(r.json["payment_id"])
    assert (attempt.status, attempt.failure_code) == ("failed", "closed")


def test_alipay_pay_now_twice_reuses_the_open_trade(api: Api, verified_user: str) -> None:
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "alipay")
    first = pay(api, verified_user, order_id, "alipay")
    second = pay(api, verified_user, order_id, "alipay")
    assert first.json["payment_id"] == second.json["payment_id"]
    assert first.json["launch"] == second.json["launch"]


def test_wechat_pay_now_answers_app_parameters_signed_by_the_merchant_key(api: Api, verified_user: str) -> None:
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "wechat_pay")
    r = pay(api, verified_user, order_id, "wechat_pay")
    assert r.status_code == 201
    launch = r.json["launch"]
    message = f"{launch['appid']}\n{launch['timestamp']}\n{launch['noncestr']}\n{launch['prepayid']}\n"
    channel_keys.WECHAT_MCH.public_key().verify(
        base64.b64decode(launch["sign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert launch["package"] == "Sign=WXPay"


def test_checkout_start_payment_opens_one_attempt_per_order_and_channel(api: Api, verified_user: str) -> None:
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "alipay")
    [opened] = PaymentAttempt.by_order.query(order_id)  # checkout's confirmation opened it
    a = payments.start_channel_payment("alipay", order_id=order_id, user_id=verified_user, amount_fen=AMOUNT)
    b = payments.start_channel_payment("alipay", order_id=order_id, user_id=verified_user, amount_fen=AMOUNT)
    assert a == b
    assert (a["out_trade_no"], a["amount_fen"]) == (opened.attempt_id, AMOUNT)
    assert pay(api, verified_user, order_id, "alipay").json["payment_id"] == opened.attempt_id
    card = payments.start_channel_payment("card", order_id=order_id, user_id=verified_user, amount_fen=AMOUNT)
    assert card["pay_now"] == f"/v1/orders/{order_id}/payments"


# --- rules of the route -----------------------------------------------------------------


def test_another_users_order_is_404(api: Api, verified_user: str) -> None:
    order_id = sim.awaiting_payment_order(api, "someone-else", AMOUNT, "alipay")
    r = pay(api, verified_user, order_id, "alipay")
    assert (r.status_code, r.json["code"]) == (404, "order_not_found")


def test_a_paid_order_cannot_be_paid_again(api: Api, verified_user: str) -> None:
    top_up(verified_user, 2 * AMOUNT)
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "wallet")
    assert pay(api, verified_user, order_id, "wallet").status_code == 201
    r = pay(api, verified_user, order_id, "wallet")
    assert (r.status_code, r.json["code"]) == (409, "illegal_transition")
    assert cash(verified_user) == AMOUNT


@pytest.mark.parametrize("body", [{"channel": "bnpl"}, {"channel": "paypal"}, {}, {"channel": "card", "x": 1}])
def test_pay_now_refuses_bad_bodies(api: Api, verified_user: str, body: dict[str, Any]) -> None:
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "card")
    r = api.post(f"/v1/orders/{order_id}/payments", body, as_=verified_user, idem=key())
    assert r.status_code == 400


def test_pay_now_needs_an_idempotency_key(api: Api, verified_user: str) -> None:
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "card")
    r = api.post(f"/v1/orders/{order_id}/payments", {"channel": "card"}, as_=verified_user)
    assert (r.status_code, r.json["code"]) == (400, "missing_idempotency_key")


# --- money that arrives for an order that can no longer take it ---------------------------


def test_a_second_payment_for_a_paid_order_is_refunded(api: Api, verified_user: str) -> None:
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "alipay")
    alipay = pay(api, verified_user, order_id, "alipay").json["payment_id"]
    top_up(verified_user, AMOUNT)
    assert pay(api, verified_user, order_id, "wallet").json["order_status"] == "paid"
    # the user also finished paying in Alipay
    assert post_alipay(api, sim.alipay_sign(sim.alipay_params(alipay, AMOUNT))).status_code == 200
    attempt = PaymentAttempt.get(alipay)
    assert (attempt.status, attempt.outcome, int(attempt.refunded_fen)) == ("refunded", "unapplied", AMOUNT)
    assert platform_book("clearing_alipay") == 0
    assert status_of(order_id) == "paid"
    kinds = [n.kind for n in Notification.query(verified_user)]
    assert sorted(kinds) == ["payment_refunded", "payment_succeeded"]
    assert_balanced()
    paid_by = payments.paid_attempt(order_id)
    assert paid_by is not None
    assert paid_by.channel == "wallet"
    # The refund took its retry timer with it. The order's webhook events keep their safety-net
    # timers (emitting reads nothing on the purchase path); the merchant has no endpoint, so the
    # delivery sweep finishes them.
    assert {t.kind for t in Timer.scan()} <= {timers.WEBHOOK_DELIVERY}
    schedules.run("deliver_webhooks", clock.now() + outbox.SAFETY_NET)
    assert not list(Timer.scan())


# --- the local stage plays the channel ----------------------------------------------------


@pytest.mark.parametrize("channel", ["alipay", "wechat_pay"])
def test_local_stage_can_play_the_channel_to_settle_a_payment(api: Api, verified_user: str, channel: str) -> None:
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, channel)
    payment_id = pay(api, verified_user, order_id, channel).json["payment_id"]
    r = api.post("/v1/dev/payments/notify", {"payment_id": payment_id})
    assert r.status_code == 200, r.json
    assert r.json["channel_status"] in (200, 204)
    assert status_of(order_id) == "paid"


def test_the_local_wechat_pay_notification_looks_like_the_real_one(api: Api, verified_user: str) -> None:
    """The body fields and headers WeChat Pay really sends, and never TRANSACTION.CLOSED
    (WeChat Pay notifies paid trades only)."""
    from chalicelib.channels import sandbox

    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "wechat_pay")
    payment_id = pay(api, verified_user, order_id, "wechat_pay").json["payment_id"]
    path, body, headers = sandbox.notification("wechat_pay", payment_id, AMOUNT, "CNY", "succeeded", clock.now())
    doc = json.loads(body)
    assert {"id", "create_time", "event_type", "resource_type", "summary", "resource"} <= set(doc)
    assert doc["event_type"] == "TRANSACTION.SUCCESS" and doc["resource"]["original_type"] == "transaction"
    assert headers["wechatpay-signature-type"] == "WECHATPAY2-SHA256-RSA2048"
    assert headers["wechatpay-serial"] == settings().channels.wechatpay_platform_serials[0]
    r = api.post("/v1/dev/payments/notify", {"payment_id": payment_id, "outcome": "failed"})
    assert (r.status_code, r.json["code"]) == (422, "no_such_notification")
    assert status_of(order_id) == "awaiting_payment"


def test_local_stage_can_settle_a_timed_out_card_charge_as_declined(api: Api, activated_user: str) -> None:
    use_card(api, activated_user, "0003")
    order_id = sim.awaiting_payment_order(api, activated_user, AMOUNT, "card")
    payment_id = pay(api, activated_user, order_id, "card").json["payment_id"]
    r = api.post("/v1/dev/payments/notify", {"payment_id": payment_id, "outcome": "failed"})
    assert r.json["channel_status"] == 200
    assert PaymentAttempt.get(payment_id).status == "failed"


def test_refunding_the_same_refund_id_twice_moves_money_once(api: Api, verified_user: str) -> None:
    top_up(verified_user, AMOUNT)
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "wallet")
    payment_id = pay(api, verified_user, order_id, "wallet").json["payment_id"]
    first = payments.refund(payment_id, 1000, "rf-1", clock.now())
    second = payments.refund(payment_id, 1000, "rf-1", clock.now())
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert cash(verified_user) == 1000
    assert int(PaymentAttempt.get(payment_id).refunded_fen) == 1000
    with pytest.raises(errors.DomainError) as err:
        payments.refund(payment_id, AMOUNT, "rf-2", clock.now())
    assert err.value.code == "refund_exceeds_payment"
    assert_balanced()


def test_refund_unapplied_payments_is_a_job_the_local_stage_can_run(api: Api) -> None:
    r = api.post("/v1/dev/jobs/refund_unapplied_payments")
    assert r.status_code == 200, r.json
    assert r.json["result"]["complete"] == 1


# --- refunds owed on returned orders ------------------------------------------------------


def test_an_approved_return_of_a_paid_order_is_refunded_through_the_channel_that_was_paid(
    api: Api, verified_user: str
) -> None:
    from chalicelib.models.aftersale import Refund
    from tests.support.shopping import MERCHANT

    top_up(verified_user, AMOUNT)
    order_id = sim.awaiting_payment_order(api, verified_user, AMOUNT, "card")  # chose card, paid from the wallet
    assert pay(api, verified_user, order_id, "wallet").status_code == 201
    assert Order.get(order_id).paid_channel == "wallet"
    assert cash(verified_user) == 0
    merchant = {"as_": MERCHANT, "roles": ["merchant"]}
    shipped = api.post(
        f"/v1/merchant/orders/{order_id}/shipment", {"carrier": "SF", "tracking_number": "SF1234567890"}, **merchant
    )
    assert shipped.status_code == 200, shipped.json
    asked = api.post(f"/v1/orders/{order_id}/return-requests", {"reason": "不合适"}, as_=verified_user)
    assert asked.status_code == 201, asked.json
    decided = api.post(
        f"/v1/merchant/return-requests/{asked.json['request_id']}/decision",
        {"decision": "approve", "note": "ok"},
        **merchant,
    )
    assert decided.status_code == 200, decided.json
    first = api.post("/v1/dev/jobs/process_refunds").json["result"]
    again = api.post("/v1/dev/jobs/process_refunds").json["result"]
    assert (first["processed"], again["processed"]) == (1, 0)
    assert cash(verified_user) == AMOUNT
    [owed] = Refund.scan()
    assert owed.status == "succeeded"
    paid_by = payments.paid_attempt(order_id)
    assert paid_by is not None
    assert int(paid_by.refunded_fen) == AMOUNT
    assert "payment_refunded" in [n.kind for n in Notification.query(verified_user)]
    assert_balanced()
