"""Paying 先用后付 orders: a received order, a card to charge, the window closed, the attempts and timers it leaves."""

from __future__ import annotations

from typing import Any

from chalicelib import ledger, schedules
from chalicelib.clock import clock, parse_iso
from chalicelib.config import settings
from chalicelib.models.ledger import Balance
from chalicelib.models.orders import Order
from chalicelib.models.payments import PaymentAttempt
from chalicelib.models.timers import Timer
from chalicelib.models.users import User
from tests.conftest import Api, new_key
from tests.support import channel_sim as sim
from tests.support.shopping import (
    MERCHANT,
    checkout,
    confirm,
    create_product,
    sku_ids,
)

PRICE = 12_900


def received_order(api: Api, user: str, price: int = PRICE) -> str:
    """Check out one item with 先用后付, confirm, ship and confirm receipt: the window is open."""
    product = create_product(api, skus=[{"attributes": {"规格": "标准"}, "price_fen": price, "stock": 20}])
    placed = checkout(api, user, [(sku_ids(product)[0], 1)])
    assert placed.status_code == 201, placed.json
    order = placed.json["orders"][0]
    assert confirm(api, user, order).json["status"] == "placed"
    shipped = api.post(
        f"/v1/merchant/orders/{order['order_id']}/shipment",
        {"carrier": "SF", "tracking_number": "SF1234567890"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert shipped.status_code == 200, shipped.json
    received = api.post(f"/v1/orders/{order['order_id']}/receipt", as_=user)
    assert received.json["status"] == "received", received.json
    return str(order["order_id"])


def use_card(api: Api, user: str, last4: str) -> None:
    """Bind a card whose last four digits pick the sandbox gateway's answer; make it the default."""
    r = api.post("/v1/me/bank-cards", {"card_number": sim.luhn_card("621226", last4)}, as_=user)
    if r.status_code == 409 and r.json["code"] == "card_already_bound":
        [card_id] = [c["card_id"] for c in api.get("/v1/me/bank-cards", as_=user).json["items"] if c["last4"] == last4]
    else:
        assert r.status_code == 201, r.json
        card_id = r.json["card_id"]
    User(user).update(actions=[User.default_card_id.set(card_id)])


def order(order_id: str) -> Order:
    return Order.get(order_id, consistent_read=True)


def user(user_id: str) -> User:
    return User.get(user_id, consistent_read=True)


def attempts(order_id: str) -> list[PaymentAttempt]:
    return sorted(PaymentAttempt.by_order.query(order_id), key=lambda a: int(a.attempt_no))


def credit(user_id: str) -> Balance:
    return Balance.get(ledger.user_account(user_id), ledger.CREDIT, consistent_read=True)


def timers_of(kind: str, ref: str) -> list[Timer]:
    found = []
    for shard in range(settings().rules.timer_shards):
        found += [t for t in Timer.query(f"{kind}#{shard:02d}") if t.ref == ref]
    return found


def close_windows() -> dict[str, Any]:
    return schedules.run("close_payment_windows", clock.now())


def to_the_close(order_id: str, extra: int = 60) -> None:
    due = parse_iso(order(order_id).due_at)
    clock.advance((due - clock.now()).total_seconds() + extra)


def pay(api: Api, user_id: str, order_id: str, channel: str) -> Any:
    return api.post(f"/v1/orders/{order_id}/payments", {"channel": channel}, as_=user_id, idem=new_key())
