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
    from ..errors import ApiError
    from ..services import catalog

    created = 0
    for product_id, name, description, skus in DEMO_PRODUCTS:
        specs = [catalog.SkuSpec(attrs, price, stock, sku_id) for sku_id, attrs, price, stock in skus]
        try:
            catalog.create_product(DEMO_MERCHANT, name, description, specs, now, product_id=product_id)
            created += 1
        except ApiError as err:
            if err.code != "product_exists":
                raise
    return [f"catalog: {len(DEMO_PRODUCTS)} products of {DEMO_MERCHANT} ({created} new), e.g. p_demo_phone_case"]


SEEDERS.append(seed_catalog)


def seed_all(now: datetime) -> list[str]:
    lines: list[str] = []
    for seeder in SEEDERS:
        lines.extend(seeder(now))
    return lines
