"""Demo data for the local stack: who exists when `make run` starts.

Seeding functions register here; each is idempotent (safe on every start).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from ..services import accounts

DEMO_CONSUMER = "demo-consumer"
DEMO_MERCHANT = "demo-merchant"
DEMO_REVIEWER = "demo-reviewer"
DEMO_SUPPORT = "demo-support"  # platform customer service (role `support`)

SEEDERS: list[Callable[[datetime], list[str]]] = []


def seed_users(now: datetime) -> list[str]:
    for uid in (DEMO_CONSUMER, DEMO_MERCHANT, DEMO_REVIEWER, DEMO_SUPPORT):
        accounts.get_or_create(uid, now)
    return [f"users {DEMO_CONSUMER}, {DEMO_MERCHANT}, {DEMO_REVIEWER}, {DEMO_SUPPORT}"]


SEEDERS.append(seed_users)

# demo-merchant's shop: fixed ids so every start finds (not duplicates) them.
DEMO_PRODUCTS = [
    (
        "p_demo_phone_case",
        "手机壳 (phone case)",
        "Soft silicone case, shock-absorbing corners.",
        [
            ("sku_demo_case_black", {"颜色": "黑色"}, 2990, 50),
            ("sku_demo_case_pink", {"颜色": "粉色"}, 2990, 30),
            ("sku_demo_case_clear", {"颜色": "透明"}, 1990, 1),
        ],
    ),
    (
        "p_demo_tshirt",
        "纯棉T恤 (cotton T-shirt)",
        "100% cotton, regular fit.",
        [
            ("sku_demo_tee_m", {"颜色": "白色", "尺码": "M"}, 5900, 20),
            ("sku_demo_tee_l", {"颜色": "白色", "尺码": "L"}, 5900, 20),
        ],
    ),
    (
        "p_demo_earbuds",
        "蓝牙耳机 (wireless earbuds)",
        "Bluetooth 5.3, 30 h battery with the case.",
        [("sku_demo_earbuds", {"颜色": "白色"}, 19900, 10)],
    ),
    (
        "p_demo_tea",
        "龙井茶 (Longjing tea) 250g",
        "West Lake Longjing, spring harvest.",
        [("sku_demo_tea", {"规格": "250g"}, 46800, 5)],
    ),
]


def seed_catalog(now: datetime) -> list[str]:
    from ..errors import DomainError
    from ..services import catalog

    created = 0
    for product_id, name, description, skus in DEMO_PRODUCTS:
        specs = [catalog.SkuSpec(attrs, price, stock, sku_id) for sku_id, attrs, price, stock in skus]
        try:
            catalog.create_product(DEMO_MERCHANT, name, description, specs, now, product_id=product_id)
            created += 1
        except DomainError as err:
            if err.code != "product_exists":
                raise
    return [f"catalog: {len(DEMO_PRODUCTS)} products of {DEMO_MERCHANT} ({created} new), e.g. p_demo_phone_case"]


SEEDERS.append(seed_catalog)


def seed_rewards(now: datetime) -> list[str]:
    """Points for the demo consumer from two 先用后付 orders paid on time, as collection
    would grant them, so the redemption walk works before any checkout."""
    from pynamodb.exceptions import DoesNotExist

    from ..clock import iso
    from ..db import Tx
    from ..models.orders import BNPL, PAID, Order
    from ..services import rewards
    from ..services.orders import order_index

    points = 0
    placed, shipped, received = now - timedelta(days=12), now - timedelta(days=11), now - timedelta(days=9)
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
            merchant_key=order_index.merchant_key(DEMO_MERCHANT, oid),
            created_key=f"{iso(now)}#{oid}",
            status=PAID,
            payment_method=BNPL,
            items=[
                {
                    "sku_id": f"demo-sku-{n}",
                    "product_id": "p_demo_history",
                    "name": f"演示历史订单 (earlier purchase) {n}",
                    "attributes": {},
                    "quantity": 1,
                    "unit_price_fen": amount,
                    "line_total_fen": amount,
                }
            ],
            subtotal_fen=amount,
            total_fen=amount,
            amount_due_fen=amount,
            address={"name": "演示", "phone": "13800000000", "line1": "演示路1号", "city": "北京"},
            created_at=iso(placed),
            updated_at=iso(now),
            # An earlier purchase that went the whole way: shipped, received, paid in its window.
            confirmed_at=iso(placed),
            shipped_at=iso(shipped),
            carrier="SF",
            tracking_number=f"SF00000000{n:02d}",
            received_at=iso(received),
            due_at=iso(received + timedelta(days=7)),
            paid_at=iso(now),
            paid_channel="card",
            paid_on_time=True,
            history=[
                {"status": "placed", "at": iso(placed), "actor": f"user:{DEMO_CONSUMER}"},
                {"status": "shipped", "at": iso(shipped), "actor": f"merchant:{DEMO_MERCHANT}"},
                {"status": "received", "at": iso(received), "actor": f"user:{DEMO_CONSUMER}"},
                {"status": "paid", "at": iso(now), "actor": "channel:card"},
            ],
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
