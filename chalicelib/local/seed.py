"""Demo data for the local stack: who exists when `make run` starts.

Seeding functions register here; each is idempotent (safe on every start).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..services import accounts

DEMO_CONSUMER = "demo-consumer"
DEMO_MERCHANT = "demo-merchant"
DEMO_REVIEWER = "demo-reviewer"

SEEDERS: list[Callable[[datetime], list[str]]] = []


def seed_users(now: datetime) -> list[str]:
    for uid in (DEMO_CONSUMER, DEMO_MERCHANT, DEMO_REVIEWER):
        accounts.get_or_create(uid, now)
    return [f"users {DEMO_CONSUMER}, {DEMO_MERCHANT}, {DEMO_REVIEWER}"]


SEEDERS.append(seed_users)


def seed_rewards(now: datetime) -> list[str]:
    """Points for the demo consumer from two 先用后付 orders paid on time, as collection
    would grant them, so the redemption walk works before any checkout."""
    from pynamodb.exceptions import DoesNotExist

    from ..clock import iso
    from ..db import Tx
    from ..models.orders import BNPL, PAID, Order
    from ..services import rewards

    points = 0
    for n, amount in ((1, 680_000), (2, 320_000)):
        oid = f"demo-paid-{n}"
        try:
            Order.get(oid)
            continue
        except DoesNotExist:
            pass
        order = Order(
            oid,
            checkout_id=f"demo-checkout-{n}",
            user_id=DEMO_CONSUMER,
            merchant_id=DEMO_MERCHANT,
            created_key=f"{iso(now)}#{oid}",
            status=PAID,
            payment_method=BNPL,
            items=[{"sku_id": f"demo-sku-{n}", "quantity": 1, "unit_price_fen": amount, "line_total_fen": amount}],
            subtotal_fen=amount,
            total_fen=amount,
            amount_due_fen=amount,
            address={"name": "演示", "phone": "13800000000", "line1": "演示路1号", "city": "北京"},
            created_at=iso(now),
            updated_at=iso(now),
            paid_at=iso(now),
            paid_on_time=True,
        )
        tx = Tx()
        tx.save(order, condition=Order.order_id.does_not_exist())
        rewards.on_paid_on_time(tx, order, now).apply(tx, accounts.get(DEMO_CONSUMER))
        tx.commit()
        points += rewards.points_for(amount)
    return [f"{DEMO_CONSUMER} earned {points} points from paid orders"] if points else []


SEEDERS.append(seed_rewards)


def seed_all(now: datetime) -> list[str]:
    lines: list[str] = []
    for seeder in SEEDERS:
        lines.extend(seeder(now))
    return lines
