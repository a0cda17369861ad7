"""Channel notifications: only a valid signature from the channel, with our amount, once.

Keys are generated for the session in tests/support/channel_keys.py; forgeries use keys
generated in the test itself.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.models.ledger import Entry
from chalicelib.models.notifications import Notification
from chalicelib.models.orders import Order
from chalicelib.models.payments import ChannelInbox, PaymentAttempt
from chalicelib.services import payments
from tests.conftest import Api
from tests.support import channel_keys
from tests.support import channel_sim as sim
from tests.support.payments import assert_balanced, platform_book, post_alipay, post_raw

AMOUNT = 12_345


def order_status(order_id: str) -> str:
    return Order.get(order_id, consistent_read=True).status


def alipay_attempt(api: Api, user: str = "u-alipay", amount: int = AMOUNT) -> tuple[str, str]:
    order_id = sim.awaiting_payment_order(api, user, amount, "alipay")
    launch = payments.start_channel_payment("alipay", order_id=order_id, user_id=user, amount_fen=amount)
    return order_id, launch["out_trade_no"]


def nothing_changed(order_id: str, attempt_id: str) -> None:
    assert order_status(order_id) == "awaiting_payment"
    assert PaymentAttempt.get(attempt_id).status == "pending"
    assert not [e for e in Entry.scan()]
    assert not list(ChannelInbox.scan())


# --- Alipay -----------------------------------------------------------------------------


def test_alipay_notification_with_a_valid_rsa2_signature_pays_the_order(api: Api) -> None:
    order_id, attempt_id = alipay_attempt(api)
    r = post_alipay(api, sim.alipay_sign(sim.alipay_params(attempt_id, AMOUNT)))
    assert r.status_code == 200
    assert r.text == "success"
    assert order_status(order_id) == "paid"
    attempt = PaymentAttempt.get(attempt_id)
    assert (attempt.status, attempt.outcome) == ("succeeded", "applied")
    assert platform_book("clearing_alipay") == AMOUNT
    assert platform_book("consumer_payments") == -AMOUNT
    assert_balanced()
    kinds = [n.kind for n in Notification.query("u-alipay")]
    assert kinds == ["payment_succeeded"]


def test_alipay_notification_signed_with_another_key_is_refused(api: Api) -> None:
    order_id, attempt_id = alipay_attempt(api)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = post_alipay(api, sim.alipay_sign(sim.alipay_params(attempt_id, AMOUNT), key=forger))
    assert (r.status_code, r.text) == (400, "failure")
    nothing_changed(order_id, attempt_id)


def test_alipay_notification_with_a_tampered_amount_is_refused(api: Api) -> None:
    order_id, attempt_id = alipay_attempt(api)
    params = sim.alipay_sign(sim.alipay_params(attempt_id, AMOUNT))
    params["total_amount"] = "0.01"
    assert post_alipay(api, params).status_code == 400
    nothing_changed(order_id, attempt_id)


def test_alipay_notification_signed_but_for_another_amount_is_rejected(api: Api) -> None:
    order_id, attempt_id = alipay_attempt(api)
    r = post_alipay(api, sim.alipay_sign(sim.alipay_params(attempt_id, AMOUNT - 1)))
    assert r.status_code == 400
    nothing_changed(order_id, attempt_id)


def test_alipay_notification_without_sign_type_rsa2_is_refused(api: Api) -> None:
    order_id, attempt_id = alipay_attempt(api)
    params = sim.alipay_sign(sim.alipay_params(attempt_id, AMOUNT))
    params["sign_type"] = "RSA"
    assert post_alipay(api, params).status_code == 400
    nothing_changed(order_id, attempt_id)


def test_alipay_notification_for_another_app_is_refused(api: Api) -> None:
    order_id, attempt_id = alipay_attempt(api)
    r = post_alipay(api, sim.alipay_sign(sim.alipay_params(attempt_id, AMOUNT, app_id="2099000000000000")))
    assert r.status_code == 400
    nothing_changed(order_id, attempt_id)


def test_alipay_notification_for_another_seller_is_refused(api: Api) -> None:
    order_id, attempt_id = alipay_attempt(api)
    r = post_alipay(api, sim.alipay_sign(sim.alipay_params(attempt_id, AMOUNT, seller_id="2088999999999999")))
    assert (r.status_code, r.text) == (400, "failure")
    unsigned_seller = sim.alipay_params(attempt_id, AMOUNT)
    del unsigned_seller["seller_id"]
    assert post_alipay(api, sim.alipay_sign(unsigned_seller)).status_code == 400
    nothing_changed(order_id, attempt_id)


def test_alipay_check_string_keeps_the_empty_parameters_alipay_signed(api: Api) -> None:
    """Alipay signs every notified parameter but sign/sign_type, empty ones too (SDK
    getSignCheckContentV1); dropping them (the rule for signing requests) refuses real payments."""
    order_id, attempt_id = alipay_attempt(api)
    params = sim.alipay_params(attempt_id, AMOUNT, buyer_logon_id="", body="", passback_params="")
    r = post_alipay(api, sim.alipay_sign(params))
    assert (r.status_code, r.text) == (200, "success")
    assert order_status(order_id) == "paid"


def test_alipay_replays_the_same_notify_id_and_it_has_one_effect(api: Api) -> None:
    # Alipay re-sends with the same notify_id for ~25 h; a replay days later is the same.
    order_id, attempt_id = alipay_attempt(api)
    params = sim.alipay_sign(sim.alipay_params(attempt_id, AMOUNT))
    assert post_alipay(api, params).status_code == 200
    clock.advance(3 * 86400)
    second = post_alipay(api, params)
    assert second.status_code == 200  # acknowledged, so Alipay stops re-sending
    assert order_status(order_id) == "paid"
    assert platform_book("clearing_alipay") == AMOUNT
    assert len(list(Notification.query("u-alipay"))) == 1
    assert len(list(ChannelInbox.scan())) == 1


def test_alipay_closed_trade_fails_the_attempt_and_leaves_the_order_awaiting_payment(api: Api) -> None:
    order_id, attempt_id = alipay_attempt(api)
    r = post_alipay(api, sim.alipay_sign(sim.alipay_params(attempt_id, AMOUNT, trade_status="TRADE_CLOSED")))
    assert r.status_code == 200
    assert PaymentAttempt.get(attempt_id).status == "failed"
    assert order_status(order_id) == "awaiting_payment"
    assert [n.kind for n in Notification.query("u-alipay")] == ["payment_failed"]


def test_alipay_notification_for_an_unknown_trade_changes_nothing(api: Api) -> None:
    r = post_alipay(api, sim.alipay_sign(sim.alipay_params("pa" + "0" * 30, AMOUNT)))
    assert r.status_code == 200
    assert not list(Entry.scan())


def test_malformed_alipay_body_is_a_failure_not_a_500(api: Api) -> None:
    for raw in ("%%%", "a=1&a=2", "", "sign=%FF%FE&sign_type=RSA2"):
        r = post_raw(api, "/v1/channels/alipay/notify", raw, {"Content-Type": "text/plain"})
        assert r.status_code == 400, raw


# --- WeChat Pay -------------------------------------------------------------------------


def wechat_attempt(api: Api, user: str = "u-wechat", amount: int = AMOUNT) -> tuple[str, str]:
    order_id = sim.awaiting_payment_order(api, user, amount, "wechat_pay")
    launch = payments.start_channel_payment("wechat_pay", order_id=order_id, user_id=user, amount_fen=amount)
    return order_id, launch["out_trade_no"]


def post_wechat(api: Api, body: bytes, headers: dict[str, str]) -> Any:
    return post_raw(api, "/v1/channels/wechatpay/notify", body, headers)


def test_wechat_pay_notification_verified_and_decrypted_pays_the_order(api: Api) -> None:
    order_id, attempt_id = wechat_attempt(api)
    r = post_wechat(api, *sim.wechat_notification(sim.wechat_transaction(attempt_id, AMOUNT)))
    assert r.status_code == 204
    assert order_status(order_id) == "paid"
    assert platform_book("clearing_wechat_pay") == AMOUNT
    assert_balanced()


def test_wechat_pay_notification_with_a_forged_signature_is_refused(api: Api) -> None:
    order_id, attempt_id = wechat_attempt(api)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = post_wechat(api, *sim.wechat_notification(sim.wechat_transaction(attempt_id, AMOUNT), key=forger))
    assert r.status_code == 401
    assert r.json == {"code": "FAIL", "message": "bad_signature"}
    nothing_changed(order_id, attempt_id)


def test_wechat_pay_notification_with_a_stale_timestamp_is_refused(api: Api) -> None:
    order_id, attempt_id = wechat_attempt(api)
    max_age = 300  # rules.channel_notify_max_age_seconds
    old = clock.now() - timedelta(seconds=max_age + 1)
    r = post_wechat(api, *sim.wechat_notification(sim.wechat_transaction(attempt_id, AMOUNT), at=old))
    assert r.status_code == 401
    assert r.json["message"] == "stale"
    nothing_changed(order_id, attempt_id)


def test_wechat_pay_notification_replayed_has_one_effect(api: Api) -> None:
    order_id, attempt_id = wechat_attempt(api)
    body, headers = sim.wechat_notification(sim.wechat_transaction(attempt_id, AMOUNT))
    assert post_wechat(api, body, headers).status_code == 204
    assert post_wechat(api, body, headers).status_code == 204
    # and the same event id re-sent later with a fresh signature (WeChat's retry)
    clock.advance(600)
    event_id = json.loads(body)["id"]
    again = sim.wechat_notification(sim.wechat_transaction(attempt_id, AMOUNT), event_id=event_id)
    assert post_wechat(api, *again).status_code == 204
    assert platform_book("clearing_wechat_pay") == AMOUNT
    assert len(list(Notification.query("u-wechat"))) == 1


def test_wechat_pay_notification_with_a_swapped_body_fails_the_signature(api: Api) -> None:
    order_id, attempt_id = wechat_attempt(api)
    _, headers = sim.wechat_notification(sim.wechat_transaction(attempt_id, AMOUNT))
    cheaper, _ = sim.wechat_notification(sim.wechat_transaction(attempt_id, 1))
    assert post_wechat(api, cheaper, headers).status_code == 401
    nothing_changed(order_id, attempt_id)


def test_wechat_pay_notification_signed_for_another_amount_is_rejected(api: Api) -> None:
    order_id, attempt_id = wechat_attempt(api)
    r = post_wechat(api, *sim.wechat_notification(sim.wechat_transaction(attempt_id, AMOUNT + 100)))
    assert r.status_code == 400
    assert r.json["code"] == "FAIL"
    nothing_changed(order_id, attempt_id)


def test_wechat_pay_notification_in_another_currency_is_rejected(api: Api) -> None:
    order_id, attempt_id = wechat_attempt(api)
    r = post_wechat(api, *sim.wechat_notification(sim.wechat_transaction(attempt_id, AMOUNT, currency="USD")))
    assert r.status_code == 400
    nothing_changed(order_id, attempt_id)


def test_wechat_pay_resource_under_another_api_v3_key_is_refused(api: Api) -> None:
    order_id, attempt_id = wechat_attempt(api)
    wrong = uuid.uuid4().hex  # 32 characters, not ours
    r = post_wechat(api, *sim.wechat_notification(sim.wechat_transaction(attempt_id, AMOUNT), api_v3_key=wrong))
    assert r.status_code == 400
    assert r.json["message"] == "bad_ciphertext"
    nothing_changed(order_id, attempt_id)


def test_wechat_pay_notification_from_an_unknown_certificate_serial_is_refused(api: Api) -> None:
    order_id, attempt_id = wechat_attempt(api)
    r = post_wechat(api, *sim.wechat_notification(sim.wechat_transaction(attempt_id, AMOUNT), serial="OTHER"))
    assert r.status_code == 401
    nothing_changed(order_id, attempt_id)


def test_wechat_pay_key_rotation_accepts_the_second_platform_serial_with_its_own_key(api: Api) -> None:
    """While WeChat Pay rotates its platform key, notifications come under either serial."""
    order_id, attempt_id = wechat_attempt(api)
    nxt = channel_keys.WECHAT_NEXT_SERIAL
    assert settings().channels.wechatpay_platform_serials[1] == nxt
    txn = sim.wechat_transaction(attempt_id, AMOUNT)
    # Each serial verifies with its own key only.
    wrong_key = sim.wechat_notification(txn, key=channel_keys.WECHAT_PLATFORM_NEXT)  # under the first serial
    assert post_wechat(api, *wrong_key).status_code == 401
    assert post_wechat(api, *sim.wechat_notification(txn, serial=nxt)).status_code == 401
    nothing_changed(order_id, attempt_id)
    rotated = sim.wechat_notification(txn, key=channel_keys.WECHAT_PLATFORM_NEXT, serial=nxt)
    assert post_wechat(api, *rotated).status_code == 204
    assert order_status(order_id) == "paid"


def test_wechat_pay_notification_with_another_signature_type_is_refused(api: Api) -> None:
    order_id, attempt_id = wechat_attempt(api)
    body, headers = sim.wechat_notification(sim.wechat_transaction(attempt_id, AMOUNT))
    assert post_wechat(api, body, {**headers, "Wechatpay-Signature-Type": "WECHATPAY2-SM2-WITH-SM3"}).status_code == 401
    nothing_changed(order_id, attempt_id)


# --- card gateway -----------------------------------------------------------------------


@pytest.fixture
def pending_card_payment(api: Api, activated_user: str) -> tuple[str, str, str]:
    """A card order whose charge timed out (the default card ends 0003)."""
    number = sim.luhn_card("622588", "0003")
    r = api.post("/v1/me/bank-cards", {"card_number": number}, as_=activated_user)
    assert r.status_code == 201
    user = activated_user
    from chalicelib.models.users import User

    User(user).update(actions=[User.default_card_id.set(r.json["card_id"])])
    order_id = sim.awaiting_payment_order(api, user, AMOUNT, "card")
    pay = api.post(f"/v1/orders/{order_id}/payments", {"channel": "card"}, as_=user, idem="key-" + uuid.uuid4().hex)
    assert pay.status_code == 201, pay.json
    assert pay.json["status"] == "pending"
    return user, order_id, pay.json["payment_id"]


def post_card(api: Api, body: bytes, headers: dict[str, str]) -> Any:
    return post_raw(api, "/v1/channels/card/notify", body, headers)


def test_card_gateway_notification_settles_a_timed_out_charge(api: Api, pending_card_payment: Any) -> None:
    user, order_id, attempt_id = pending_card_payment
    r = post_card(api, *sim.card_notification(attempt_id, AMOUNT))
    assert r.status_code == 200
    assert order_status(order_id) == "paid"
    assert platform_book("clearing_card") == AMOUNT
    assert_balanced()


def test_card_notification_with_a_forged_hmac_is_refused(api: Api, pending_card_payment: Any) -> None:
    user, order_id, attempt_id = pending_card_payment
    r = post_card(api, *sim.card_notification(attempt_id, AMOUNT, key="not-the-gateway-key"))
    assert r.status_code == 401
    assert order_status(order_id) == "awaiting_payment"


def test_card_notification_sent_too_long_ago_is_refused(api: Api, pending_card_payment: Any) -> None:
    user, order_id, attempt_id = pending_card_payment
    old = clock.now() - timedelta(seconds=301)
    r = post_card(api, *sim.card_notification(attempt_id, AMOUNT, sent_at=old))
    assert r.status_code == 401
    assert r.json["reason"] == "stale"
    assert order_status(order_id) == "awaiting_payment"


def test_card_notification_with_a_tampered_amount_is_refused(api: Api, pending_card_payment: Any) -> None:
    user, order_id, attempt_id = pending_card_payment
    body, headers = sim.card_notification(attempt_id, AMOUNT)
    tampered = body.replace(f'"amount_fen": {AMOUNT}'.encode(), b'"amount_fen": 1')
    assert tampered != body
    assert post_card(api, tampered, headers).status_code == 401
    # signed by the gateway, but not our amount: rejected and flagged
    assert post_card(api, *sim.card_notification(attempt_id, 1)).status_code == 400
    assert order_status(order_id) == "awaiting_payment"
    assert PaymentAttempt.get(attempt_id).status == "pending"


def test_card_notification_delivered_twice_has_one_effect(api: Api, pending_card_payment: Any) -> None:
    user, order_id, attempt_id = pending_card_payment
    body, headers = sim.card_notification(attempt_id, AMOUNT, event_id="evt_once")
    assert post_card(api, body, headers).status_code == 200
    assert post_card(api, body, headers).status_code == 200
    assert platform_book("clearing_card") == AMOUNT
    kinds = [n.kind for n in Notification.query(user)]
    assert kinds.count("payment_succeeded") == 1


def test_card_decline_notification_fails_the_pending_attempt(api: Api, pending_card_payment: Any) -> None:
    user, order_id, attempt_id = pending_card_payment
    body, headers = sim.card_notification(attempt_id, AMOUNT, kind="charge.failed", failure_code="card_declined")
    assert post_card(api, body, headers).status_code == 200
    attempt = PaymentAttempt.get(attempt_id)
    assert (attempt.status, attempt.failure_code) == ("failed", "card_declined")
    assert order_status(order_id) == "awaiting_payment"


# --- signed, but naming no trade of ours ---------------------------------------------------


def test_signed_notifications_with_an_empty_reference_are_acknowledged_and_change_nothing(
    api: Api, pending_card_payment: Any
) -> None:
    """Validly signed, no reference: an unknown trade (ack, flag, nothing changes), never a 500."""
    user, order_id, attempt_id = pending_card_payment
    r = post_card(api, *sim.card_notification("", AMOUNT))
    assert (r.status_code, r.json) == (200, {"received": True})
    r = post_alipay(api, sim.alipay_sign(sim.alipay_params("", AMOUNT)))
    assert (r.status_code, r.text) == (200, "success")
    txn = sim.wechat_transaction("", AMOUNT)
    assert post_wechat(api, *sim.wechat_notification(txn)).status_code == 204
    del txn["out_trade_no"]
    refund_event = sim.wechat_notification(txn, event_type="REFUND.SUCCESS")
    assert post_wechat(api, *refund_event).status_code == 204
    assert order_status(order_id) == "awaiting_payment"
    assert PaymentAttempt.get(attempt_id).status == "pending"
    assert {i.result for i in ChannelInbox.scan()} == {"unknown_attempt"}
