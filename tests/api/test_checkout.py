"""Checkout, confirmation, orders and expiry: guide step 第二步 (order and verify)."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import schedules
from chalicelib.clock import clock, iso
from chalicelib.config import settings as settings_of
from chalicelib.errors import DomainError
from chalicelib.models.coupons import Coupon
from chalicelib.models.ledger import Entry
from chalicelib.models.orders import Order
from chalicelib.models.users import User
from chalicelib.services import catalog as catalog_service
from chalicelib.services import checkout as checkout_service
from chalicelib.services import orders as orders_service
from chalicelib.services.checkout import Line
from tests.conftest import Api, new_key
from tests.support.shopping import (
    ADDRESS,
    MERCHANT,
    MERCHANT_2,
    PASSWORD,
    DeviceKey,
    atomic_moto,
    checkout,
    confirm,
    confirming,
    create_product,
    credit,
    dynamodb_calls,
    racing_transactions,
    run_together,
    sku_ids,
    stock_of,
)

TTL = 900  # rules.checkout_ttl_seconds in the local stage


def give_coupon(
    user: str, coupon_id: str = "cp-1", *, discount: int = 500, min_spend: int = 3000, days: int = 7
) -> str:
    Coupon(
        user,
        coupon_id,
        rule="test",
        title=f"满{min_spend // 100}减{discount // 100}",
        discount_fen=discount,
        min_spend_fen=min_spend,
        expires_at=iso(clock.now() + timedelta(days=days)),
        issued_at=iso(clock.now()),
    ).save()
    return coupon_id


def coupon_state(user: str, coupon_id: str = "cp-1") -> tuple[str, str | None]:
    c = Coupon.get(user, coupon_id, consistent_read=True)
    return c.status, c.order_id


# --- checkout ---------------------------------------------------------------------------


def test_checkout_from_the_cart_makes_one_order_per_merchant(api: Api, activated_user: str) -> None:
    a = create_product(api)
    b = create_product(api, MERCHANT_2, name="T恤", skus=[{"attributes": {"尺码": "M"}, "price_fen": 5900, "stock": 3}])
    black, pink = sku_ids(a)
    tee = sku_ids(b)[0]
    api.put(f"/v1/cart/items/{black}", {"quantity": 2}, as_=activated_user)
    api.put(f"/v1/cart/items/{tee}", {"quantity": 1}, as_=activated_user)
    api.put(f"/v1/cart/items/{pink}", {"quantity": 1, "selected": False}, as_=activated_user)

    r = checkout(api, activated_user)
    assert r.status_code == 201, r.json
    orders = {o["merchant_id"]: o for o in r.json["orders"]}
    assert set(orders) == {MERCHANT, MERCHANT_2}
    assert orders[MERCHANT]["total_fen"] == 5980
    assert orders[MERCHANT_2]["total_fen"] == 5900
    for o in orders.values():
        assert o["status"] == "awaiting_confirmation"
        assert o["challenge"]["expires_at"] == iso(clock.now() + timedelta(seconds=TTL))
        assert len(o["challenge"]["nonce"]) >= 16
    assert orders[MERCHANT]["challenge"]["challenge_id"] != orders[MERCHANT_2]["challenge"]["challenge_id"]
    # Stock is reserved at checkout; checked-out lines leave the cart, unselected ones stay.
    assert stock_of(api, a)[black] == 3
    assert [i["sku_id"] for i in api.get("/v1/cart", as_=activated_user).json["items"]] == [pink]
    # Credit is only checked at checkout, reserved at confirmation.
    assert credit(api, activated_user)["used_fen"] == 0


def test_buy_now_takes_price_from_the_server_and_refuses_client_prices(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    body = {
        "items": [{"sku_id": black, "quantity": 1, "price_fen": 1}],
        "payment_method": "bnpl",
        "address": ADDRESS,
    }
    assert api.post("/v1/checkout", body, as_=activated_user, idem=new_key()).status_code == 400
    body = {"items": [{"sku_id": black, "quantity": 1}], "payment_method": "bnpl", "address": ADDRESS, "total_fen": 1}
    assert api.post("/v1/checkout", body, as_=activated_user, idem=new_key()).status_code == 400
    r = checkout(api, activated_user, [(black, 1)])
    assert r.json["orders"][0]["total_fen"] == 2990


def test_checkout_needs_items_or_the_cart_and_an_idempotency_key(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    both = {
        "items": [{"sku_id": black, "quantity": 1}],
        "from_cart": True,
        "payment_method": "bnpl",
        "address": ADDRESS,
    }
    assert api.post("/v1/checkout", both, as_=activated_user, idem=new_key()).status_code == 400
    neither = {"payment_method": "bnpl", "address": ADDRESS}
    assert api.post("/v1/checkout", neither, as_=activated_user, idem=new_key()).status_code == 400
    r = api.post("/v1/checkout", {**neither, "items": [{"sku_id": black, "quantity": 1}]}, as_=activated_user)
    assert (r.status_code, r.json["code"]) == (400, "missing_idempotency_key")
    r = checkout(api, activated_user)
    assert (r.status_code, r.json["code"]) == (422, "cart_empty")
    r = checkout(api, activated_user, [(black, 1), (black, 1)])
    assert (r.status_code, r.json["code"]) == (422, "duplicate_sku")
    r = checkout(api, activated_user, [("sku_nope", 1)])
    assert (r.status_code, r.json["code"]) == (422, "unknown_sku")
    r = checkout(api, activated_user, [(black, 1)], method="cash_on_delivery")
    assert r.status_code == 400


def test_checkout_beyond_stock_is_refused(api: Api, activated_user: str) -> None:
    pink = sku_ids(create_product(api))[1]
    r = checkout(api, activated_user, [(pink, 2)])
    assert (r.status_code, r.json["code"]) == (409, "out_of_stock")


def test_bnpl_needs_activation_and_is_refused_while_frozen(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    r = checkout(api, "u-not-activated", [(black, 1)])
    assert (r.status_code, r.json["code"]) == (409, "bnpl_not_activated")
    # Other methods do not need 先用后付.
    assert checkout(api, "u-not-activated", [(black, 1)], method="alipay").status_code == 201
    User(activated_user).update(actions=[User.bnpl_status.set("frozen")])
    r = checkout(api, activated_user, [(black, 1)])
    assert (r.status_code, r.json["code"]) == (409, "bnpl_frozen")


def test_bnpl_checkout_over_the_available_credit_is_refused(api: Api, activated_user: str) -> None:
    sku = sku_ids(create_product(api, skus=[{"attributes": {}, "price_fen": 25001, "stock": 5}]))[0]
    r = checkout(api, activated_user, [(sku, 2)])  # 50002 fen > ¥500
    assert (r.status_code, r.json["code"]) == (409, "credit_insufficient")
    assert checkout(api, activated_user, [(sku, 1)]).status_code == 201


def test_double_submitted_checkout_with_one_key_makes_one_order(api: Api, activated_user: str) -> None:
    product = create_product(api)
    black = sku_ids(product)[0]
    key = new_key()
    first = checkout(api, activated_user, [(black, 2)], idem=key)
    second = checkout(api, activated_user, [(black, 2)], idem=key)
    assert first.status_code == second.status_code == 201
    assert second.json == first.json
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert stock_of(api, product)[black] == 3  # reserved once
    assert len(api.get("/v1/orders", as_=activated_user).json["items"]) == 1
    other = checkout(api, activated_user, [(black, 1)], idem=key)
    assert (other.status_code, other.json["code"]) == (422, "idempotency_key_reused")


def test_two_concurrent_checkouts_cannot_both_take_the_last_unit(api: Api, activated_user: str) -> None:
    product = create_product(api)
    pink = sku_ids(product)[1]  # stock 1

    def buy() -> Any:
        return checkout_service.checkout(
            activated_user,
            items=[Line(pink, 1)],
            from_cart=False,
            payment_method="alipay",
            coupon_id=None,
            address=ADDRESS,
            now=clock.now(),
        )

    with racing_transactions(2):
        results = run_together(buy, buy)
    won = [r for r in results if isinstance(r, checkout_service.CheckoutResult)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].code == "out_of_stock"
    assert stock_of(api, product)[pink] == 0


# --- confirmation -----------------------------------------------------------------------


def test_password_confirmation_places_a_bnpl_order_and_reserves_credit(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    order = checkout(api, activated_user, [(black, 2)]).json["orders"][0]
    r = confirm(api, activated_user, order)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "placed"
    assert r.json["credit_reserved_fen"] == 5980
    assert credit(api, activated_user) == {"limit_fen": 50000, "used_fen": 5980, "available_fen": 44020}
    entries = list(Entry.query(f"user#{activated_user}"))
    assert [(e.event_id, e.book, e.amount) for e in entries] == [
        (f"order:{order['order_id']}:credit_reserved", "credit_used", 5980)
    ]
    assert User.get(activated_user).unpaid_bnpl_count == 1
    detail = api.get(f"/v1/orders/{order['order_id']}", as_=activated_user).json
    assert [h["status"] for h in detail["history"]] == ["awaiting_confirmation", "placed"]
    assert detail["challenge"] is None
    assert (detail["subtotal_fen"], detail["discount_fen"], detail["total_fen"]) == (5980, 0, 5980)
    assert detail["items"][0]["attributes"] == {"颜色": "黑色"}
    assert detail["address"] == ADDRESS


def test_device_signature_over_the_nonce_confirms(api: Api, activated_user: str) -> None:
    key = DeviceKey()
    r = api.post(
        "/v1/me/devices",
        {"device_id": "phone-1", "public_key_pem": key.public_pem, "password": PASSWORD},
        as_=activated_user,
    )
    assert r.status_code == 201
    black = sku_ids(create_product(api))[0]
    order = checkout(api, activated_user, [(black, 1)]).json["orders"][0]
    path = f"/v1/orders/{order['order_id']}/confirmation"
    cid = order["challenge"]["challenge_id"]

    forged = DeviceKey().sign(order["challenge"]["nonce"])
    r = api.post(
        path, {"challenge_id": cid, "device_id": "phone-1", "signature": forged}, as_=activated_user, idem=new_key()
    )
    assert (r.status_code, r.json["code"]) == (422, "signature_invalid")
    r = api.post(
        path,
        {"challenge_id": cid, "device_id": "phone-1", "signature": "not base64!!"},
        as_=activated_user,
        idem=new_key(),
    )
    assert (r.status_code, r.json["code"]) == (422, "signature_invalid")
    other_device = {"challenge_id": cid, "device_id": "phone-2", "signature": key.sign(order["challenge"]["nonce"])}
    r = api.post(path, other_device, as_=activated_user, idem=new_key())
    assert (r.status_code, r.json["code"]) == (422, "device_not_registered")

    good = {"challenge_id": cid, "device_id": "phone-1", "signature": key.sign(order["challenge"]["nonce"])}
    r = api.post(path, good, as_=activated_user, idem=new_key())
    assert (r.status_code, r.json["status"]) == (200, "placed")


def test_confirmation_takes_a_password_or_a_signature_not_both(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    order = checkout(api, activated_user, [(black, 1)]).json["orders"][0]
    path = f"/v1/orders/{order['order_id']}/confirmation"
    cid = order["challenge"]["challenge_id"]
    for body in (
        {"challenge_id": cid},
        {"challenge_id": cid, "password": PASSWORD, "device_id": "phone-1", "signature": "abcdefgh"},
        {"challenge_id": cid, "device_id": "phone-1"},
        {"challenge_id": cid, "password": 135790},
    ):
        assert api.post(path, body, as_=activated_user, idem=new_key()).status_code == 400, body


def test_a_wrong_password_is_refused_and_locks_after_five_tries(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    order = checkout(api, activated_user, [(black, 1)]).json["orders"][0]
    for _ in range(4):
        r = confirm(api, activated_user, order, password="246801")
        assert (r.status_code, r.json["code"]) == (422, "payment_password_incorrect")
    r = confirm(api, activated_user, order, password="246801")
    assert (r.status_code, r.json["code"]) == (423, "payment_password_locked")
    r = confirm(api, activated_user, order)  # even the right one, while locked
    assert (r.status_code, r.json["code"]) == (423, "payment_password_locked")
    assert api.get(f"/v1/orders/{order['order_id']}", as_=activated_user).json["status"] == "awaiting_confirmation"


def test_a_challenge_is_single_use_bound_to_its_order_and_expires(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    one, two = (checkout(api, activated_user, [(black, 1)]).json["orders"][0] for _ in range(2))
    # Another order's challenge does not fit.
    r = confirm(api, activated_user, {**one, "challenge": two["challenge"]})
    assert (r.status_code, r.json["code"]) == (409, "challenge_mismatch")
    assert confirm(api, activated_user, one).status_code == 200
    r = confirm(api, activated_user, one)  # replayed with a new key
    assert (r.status_code, r.json["code"]) == (409, "challenge_used")
    clock.advance(TTL)
    r = confirm(api, activated_user, two)
    assert (r.status_code, r.json["code"]) == (409, "challenge_expired")


def test_double_submitted_confirmation_with_one_key_reserves_once(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    order = checkout(api, activated_user, [(black, 1)]).json["orders"][0]
    key = new_key()
    first = confirm(api, activated_user, order, idem=key)
    second = confirm(api, activated_user, order, idem=key)
    assert first.status_code == second.status_code == 200
    assert second.json == first.json
    assert credit(api, activated_user)["used_fen"] == 2990
    assert len(list(Entry.query(f"user#{activated_user}"))) == 1


def test_two_concurrent_confirmations_cannot_both_spend_the_last_credit(api: Api, activated_user: str) -> None:
    sku = sku_ids(create_product(api, skus=[{"attributes": {}, "price_fen": 30000, "stock": 5}]))[0]
    # Each fits the ¥500 limit alone; together they do not.
    one, two = (checkout(api, activated_user, [(sku, 1)]).json["orders"][0] for _ in range(2))

    with racing_transactions(2):
        results = run_together(confirming(activated_user, one), confirming(activated_user, two))
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(lost) == 1, results
    assert lost[0].code == "credit_insufficient"
    assert credit(api, activated_user)["used_fen"] == 30000
    assert User.get(activated_user).unpaid_bnpl_count == 1


def test_parallel_confirmations_check_at_most_five_passwords_per_lock_period(
    api: Api, activated_user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 guesses at once: each try is claimed before the KDF runs, so no more than the
    rule's 5 passwords are ever checked before the lock (the attack found 13 + 1)."""
    black = sku_ids(create_product(api))[0]
    order = checkout(api, activated_user, [(black, 1)]).json["orders"][0]
    checked: list[int] = []
    real_scrypt = hashlib.scrypt

    def counting_scrypt(*args: Any, **kwargs: Any) -> bytes:
        checked.append(1)
        return real_scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting_scrypt)
    start = threading.Barrier(20, timeout=10)

    def guess(pin: str) -> Any:
        attempt = confirming(activated_user, order, pin)

        def go() -> Any:
            start.wait()
            return attempt()

        return go

    with atomic_moto():
        results = run_together(*(guess(f"{n:06d}") for n in range(246801, 246821)))
    codes = Counter(r.code if isinstance(r, DomainError) else "confirmed" for r in results)
    assert len(checked) <= settings_of().rules.password_max_tries, codes
    assert codes == {"payment_password_incorrect": 4, "payment_password_locked": 16}, codes
    # Locked: the right password waits for the end of the lock period too.
    assert confirm(api, activated_user, order).status_code == 423


def test_channel_confirmation_awaits_payment_with_launch_data(api: Api, verified_user: str) -> None:
    api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=verified_user)
    black = sku_ids(create_product(api))[0]
    order = checkout(api, verified_user, [(black, 1)], method="wechat_pay").json["orders"][0]
    r = confirm(api, verified_user, order)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "awaiting_payment"
    assert r.json["payment"]["channel"] == "wechat_pay"
    assert r.json["payment"]["amount_fen"] == 2990
    assert r.json["credit_reserved_fen"] == 0


def test_another_users_order_is_a_404(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    order = checkout(api, activated_user, [(black, 1)]).json["orders"][0]
    path = f"/v1/orders/{order['order_id']}"
    assert api.get(path, as_="u-stranger").status_code == 404
    assert confirm(api, "u-stranger", order).status_code == 404
    assert api.post(f"{path}/cancel", as_="u-stranger").status_code == 404
    assert api.get(path, as_=activated_user).status_code == 200
    assert api.get("/v1/orders/o_missing", as_=activated_user).json["code"] == "order_not_found"


# --- orders -----------------------------------------------------------------------------


def test_orders_list_newest_first_with_a_status_filter_and_cursor(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    ids = []
    for _ in range(3):
        ids.append(checkout(api, activated_user, [(black, 1)]).json["orders"][0])
        clock.advance(1)
    assert confirm(api, activated_user, ids[1]).status_code == 200
    page = api.get("/v1/orders?limit=2", as_=activated_user).json
    assert [o["order_id"] for o in page["items"]] == [ids[2]["order_id"], ids[1]["order_id"]]
    rest = api.get(f"/v1/orders?limit=2&cursor={page['next_cursor']}", as_=activated_user).json
    assert [o["order_id"] for o in rest["items"]] == [ids[0]["order_id"]]
    placed = api.get("/v1/orders?status=placed", as_=activated_user).json
    assert [o["order_id"] for o in placed["items"]] == [ids[1]["order_id"]]
    waiting = api.get("/v1/orders?status=awaiting_confirmation&limit=1", as_=activated_user).json
    assert [o["order_id"] for o in waiting["items"]] == [ids[2]["order_id"]]
    more = api.get(
        f"/v1/orders?status=awaiting_confirmation&limit=1&cursor={waiting['next_cursor']}", as_=activated_user
    )
    assert [o["order_id"] for o in more.json["items"]] == [ids[0]["order_id"]]
    assert api.get("/v1/orders?status=lost", as_=activated_user).status_code == 400
    assert api.get("/v1/orders", as_="u-stranger").json["items"] == []


def test_cancel_before_shipment_releases_stock_credit_and_coupon(api: Api, activated_user: str) -> None:
    product = create_product(api)
    black = sku_ids(product)[0]
    give_coupon(activated_user)
    order = checkout(api, activated_user, [(black, 2)], coupon_id="cp-1").json["orders"][0]
    assert confirm(api, activated_user, order).status_code == 200
    assert coupon_state(activated_user) == ("used", order["order_id"])
    assert credit(api, activated_user)["used_fen"] == 5480

    r = api.post(f"/v1/orders/{order['order_id']}/cancel", as_=activated_user)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "cancelled"
    assert [h["status"] for h in r.json["history"]] == ["awaiting_confirmation", "placed", "cancelled"]
    assert stock_of(api, product)[black] == 5
    assert credit(api, activated_user)["used_fen"] == 0
    assert coupon_state(activated_user) == ("available", None)
    assert User.get(activated_user).unpaid_bnpl_count == 0
    released = {e.event_id: e.amount for e in Entry.query(f"user#{activated_user}")}
    assert released == {
        f"order:{order['order_id']}:credit_reserved": 5480,
        f"order:{order['order_id']}:credit_released": -5480,
    }

    again = api.post(f"/v1/orders/{order['order_id']}/cancel", as_=activated_user)
    assert (again.status_code, again.json["code"]) == (409, "illegal_transition")


def test_a_shipped_order_cannot_be_cancelled(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    order = checkout(api, activated_user, [(black, 1)]).json["orders"][0]
    confirm(api, activated_user, order)
    Order(order["order_id"]).update(actions=[Order.status.set("shipped")])
    r = api.post(f"/v1/orders/{order['order_id']}/cancel", as_=activated_user)
    assert (r.status_code, r.json["code"]) == (409, "illegal_transition")
    assert credit(api, activated_user)["used_fen"] == 2990


def test_an_unconfirmed_order_can_be_cancelled_and_then_not_confirmed(api: Api, activated_user: str) -> None:
    product = create_product(api)
    black = sku_ids(product)[0]
    order = checkout(api, activated_user, [(black, 1)]).json["orders"][0]
    assert api.post(f"/v1/orders/{order['order_id']}/cancel", as_=activated_user).status_code == 200
    r = confirm(api, activated_user, order)
    assert (r.status_code, r.json["code"]) == (409, "illegal_transition")
    assert stock_of(api, product)[black] == 5
    # Its expiry timer went with it: the sweep finds nothing.
    clock.advance(TTL)
    assert schedules.run("expire_checkouts", clock.now())["processed"] == 0


# --- coupons ----------------------------------------------------------------------------


def test_a_coupon_discounts_the_order_and_is_reserved_then_used(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    give_coupon(activated_user)
    r = checkout(api, activated_user, [(black, 2)], coupon_id="cp-1")
    order = r.json["orders"][0]
    assert (order["subtotal_fen"], order["discount_fen"], order["total_fen"]) == (5980, 500, 5480)
    assert coupon_state(activated_user) == ("reserved", order["order_id"])
    # A held coupon cannot be applied again.
    r = checkout(api, activated_user, [(black, 2)], coupon_id="cp-1")
    assert (r.status_code, r.json["code"]) == (409, "coupon_not_available")
    confirm(api, activated_user, order)
    assert coupon_state(activated_user) == ("used", order["order_id"])
    assert credit(api, activated_user)["used_fen"] == 5480


def test_a_coupon_applies_to_the_largest_order_of_a_split_checkout(api: Api, activated_user: str) -> None:
    a = sku_ids(create_product(api))[0]
    b = sku_ids(create_product(api, MERCHANT_2, skus=[{"attributes": {}, "price_fen": 9900, "stock": 2}]))[0]
    give_coupon(activated_user)
    orders = checkout(api, activated_user, [(a, 1), (b, 1)], coupon_id="cp-1").json["orders"]
    discounts = {o["merchant_id"]: o["discount_fen"] for o in orders}
    assert discounts == {MERCHANT: 0, MERCHANT_2: 500}


def test_coupon_rules_minimum_spend_expiry_and_ownership(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    give_coupon(activated_user, "cp-big", min_spend=10000)
    r = checkout(api, activated_user, [(black, 1)], coupon_id="cp-big")
    assert (r.status_code, r.json["code"]) == (422, "coupon_min_spend_not_met")
    give_coupon(activated_user, "cp-old", days=1)
    clock.advance(86400)
    r = checkout(api, activated_user, [(black, 2)], coupon_id="cp-old")
    assert (r.status_code, r.json["code"]) == (409, "coupon_expired")
    give_coupon("u-someone-else", "cp-theirs")
    r = checkout(api, activated_user, [(black, 2)], coupon_id="cp-theirs")
    assert (r.status_code, r.json["code"]) == (422, "coupon_not_found")
    assert coupon_state("u-someone-else", "cp-theirs") == ("available", None)


# --- expiry -----------------------------------------------------------------------------


def test_expire_checkouts_cancels_unconfirmed_orders_past_the_deadline(api: Api, activated_user: str) -> None:
    product = create_product(api)
    black = sku_ids(product)[0]
    give_coupon(activated_user)
    order = checkout(api, activated_user, [(black, 2)], coupon_id="cp-1").json["orders"][0]
    clock.advance(TTL - 1)
    assert schedules.run("expire_checkouts", clock.now())["processed"] == 0
    clock.advance(1)
    assert schedules.run("expire_checkouts", clock.now())["processed"] == 1
    detail = api.get(f"/v1/orders/{order['order_id']}", as_=activated_user).json
    assert detail["status"] == "cancelled"
    assert detail["history"][-1] == {
        "status": "cancelled",
        "event": "cancelled",
        "at": iso(clock.now()),
        "actor": "system",
        "note": "checkout expired",
    }
    assert stock_of(api, product)[black] == 5
    assert coupon_state(activated_user) == ("available", None)
    assert schedules.run("expire_checkouts", clock.now())["processed"] == 0  # a second run changes nothing


def test_confirmed_orders_do_not_expire(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    order = checkout(api, activated_user, [(black, 1)]).json["orders"][0]
    confirm(api, activated_user, order)
    clock.advance(TTL * 4)
    assert schedules.run("expire_checkouts", clock.now())["processed"] == 0
    assert api.get(f"/v1/orders/{order['order_id']}", as_=activated_user).json["status"] == "placed"


def test_an_unpaid_channel_order_expires_after_its_payment_deadline(api: Api, verified_user: str) -> None:
    api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=verified_user)
    product = create_product(api)
    black = sku_ids(product)[0]
    order = checkout(api, verified_user, [(black, 1)], method="alipay").json["orders"][0]
    clock.advance(TTL - 60)
    assert confirm(api, verified_user, order).json["status"] == "awaiting_payment"
    clock.advance(60)  # the challenge's deadline: nothing lapses, the order is confirmed
    assert schedules.run("expire_checkouts", clock.now())["processed"] == 0
    clock.advance(TTL)
    assert schedules.run("expire_checkouts", clock.now())["processed"] == 1
    assert api.get(f"/v1/orders/{order['order_id']}", as_=verified_user).json["status"] == "cancelled"
    assert stock_of(api, product)[black] == 5


def test_overlapping_expiry_runs_cancel_each_order_once(api: Api, activated_user: str) -> None:
    product = create_product(api)
    black = sku_ids(product)[0]
    for _ in range(2):
        checkout(api, activated_user, [(black, 1)])
    clock.advance(TTL)
    now = clock.now()
    with racing_transactions(2):
        results = run_together(
            lambda: schedules.run("expire_checkouts", now), lambda: schedules.run("expire_checkouts", now)
        )
    assert sum(r["processed"] for r in results) == 2, results
    assert stock_of(api, product)[black] == 5  # each unit returned once


# --- cost -------------------------------------------------------------------------------


def test_dynamodb_calls_made_by_one_checkout_and_one_confirmation(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    give_coupon(activated_user)
    with dynamodb_calls() as at_checkout:
        order = checkout(api, activated_user, [(black, 2)], coupon_id="cp-1").json["orders"][0]
    with dynamodb_calls() as at_confirmation:
        assert confirm(api, activated_user, order).status_code == 200
    print(f"\ncheckout: {dict(at_checkout)}\nconfirmation: {dict(at_confirmation)}")
    # user, SKUs, coupon and credit headroom in one batch, then one transaction that also
    # writes the idempotency record.
    assert at_checkout == {"BatchGetItem": 1, "TransactWriteItems": 1}
    # order and user in one batch, the password try claimed before the KDF (so parallel
    # guesses cannot outrun the lockout), then one transaction that also releases the try
    # and writes the idempotency record. The risk decision adds one batch (its counters,
    # lists, profile and credit book) and writes into that same transaction: 4 calls in all.
    assert at_confirmation == {"BatchGetItem": 2, "UpdateItem": 1, "TransactWriteItems": 1}


def test_dynamodb_calls_made_by_a_checkout_from_the_address_book(api: Api, activated_user: str) -> None:
    black = sku_ids(create_product(api))[0]
    saved = api.post("/v1/me/addresses", ADDRESS, as_=activated_user)
    assert saved.status_code == 201, saved.json
    body = {
        "items": [{"sku_id": black, "quantity": 1}],
        "payment_method": "bnpl",
        "address_id": saved.json["address_id"],
    }
    with dynamodb_calls() as at_checkout:
        r = api.post("/v1/checkout", body, as_=activated_user, idem=new_key())
    assert r.status_code == 201, r.json
    order_id = r.json["orders"][0]["order_id"]
    assert api.get(f"/v1/orders/{order_id}", as_=activated_user).json["address"] == ADDRESS
    # The saved address is read first (one GetItem, in the handler), then the same batch and
    # transaction as a checkout with an inline address.
    assert at_checkout == {"GetItem": 1, "BatchGetItem": 1, "TransactWriteItems": 1}


@pytest.mark.parametrize("method", ["card", "wallet"])
def test_every_channel_method_confirms_to_awaiting_payment(api: Api, verified_user: str, method: str) -> None:
    api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=verified_user)
    black = sku_ids(create_product(api))[0]
    order = checkout(api, verified_user, [(black, 1)], method=method).json["orders"][0]
    assert confirm(api, verified_user, order).json["payment"]["channel"] == method


# --- property: stock is conserved -------------------------------------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stock=st.integers(min_value=0, max_value=6),
    wants=st.lists(st.tuples(st.integers(min_value=1, max_value=4), st.booleans()), max_size=5),
    shards=st.integers(min_value=1, max_value=3),  # split over stock shards too (issue 29)
)
def test_stock_is_never_oversold_and_cancelling_gives_it_back(
    api: Api, stock: int, wants: list[tuple[int, bool]], shards: int
) -> None:
    spec = catalog_service.SkuSpec({}, 100, stock, stock_shards=shards)
    detail = catalog_service.create_product(MERCHANT, "壳", "", [spec], clock.now())
    sku = detail.skus[0].sku_id
    left, sold = stock, 0
    for quantity, cancel_it in wants:
        try:
            result = checkout_service.checkout(
                "u-prop",
                items=[Line(sku, quantity)],
                from_cart=False,
                payment_method="card",
                coupon_id=None,
                address=ADDRESS,
                now=clock.now(),
            )
        except DomainError as err:
            assert err.code == "out_of_stock"
            assert quantity > left
            continue
        assert quantity <= left
        left -= quantity
        if cancel_it:
            orders_service.cancel("u-prop", result.orders[0].order_id, clock.now())
            left += quantity
        else:
            sold += quantity
    assert catalog_service.get_skus([sku])[sku].stock == left == stock - sold


def test_wechat_not_answering_a_confirmation_is_a_503_and_the_next_confirmation_launches(
    api: Api, verified_user: str
) -> None:
    """WeChat Pay down when a channel order is confirmed: 503 `temporarily_unavailable` (was a
    500) and nothing confirmed; confirming again launches the same trade."""
    from chalicelib.channels.simulator import SIMULATOR
    from chalicelib.services.payments.attempts import attempt_id_for

    api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=verified_user)
    black = sku_ids(create_product(api))[0]
    order = checkout(api, verified_user, [(black, 1)], method="wechat_pay").json["orders"][0]
    SIMULATOR.lose_answer(attempt_id_for(order["order_id"], 1), "prepay")
    r = confirm(api, verified_user, order)
    assert r.status_code == 503 and r.json["code"] == "temporarily_unavailable", r.json
    assert api.get(f"/v1/orders/{order['order_id']}", as_=verified_user).json["status"] == "awaiting_confirmation"
    again = confirm(api, verified_user, order)
    assert again.status_code == 200 and again.json["status"] == "awaiting_payment", again.json
    assert again.json["payment"]["out_trade_no"] == attempt_id_for(order["order_id"], 1)
