"""Installments (分期, SPEC 'Installments'): quotes, buying in parts, the schedule, paying it."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.shopping import MERCHANT, create_product

PRICE = 30_000  # ¥300: eligible (≥ ¥100)


def interest_free_product(api: Api, parts: list[int], price: int = PRICE) -> dict[str, Any]:
    body = {
        "name": "耳机",
        "skus": [{"attributes": {"颜色": "白"}, "price_fen": price, "stock": 20}],
        "interest_free_parts": parts,
    }
    r = api.post("/v1/merchant/products", body, as_=MERCHANT, roles=["merchant"])
    assert r.status_code == 201, r.json
    return dict(r.json)


def plans_of(api: Api, user: str, amount: int, product_id: str | None = None) -> dict[int, dict[str, Any]]:
    query = f"?amount_fen={amount}" + (f"&product_id={product_id}" if product_id else "")
    r = api.get(f"/v1/bnpl/plans{query}", as_=user)
    assert r.status_code == 200, r.json
    return {p["parts"]: p for p in r.json["plans"]}


def test_a_quote_shows_every_plan_with_its_fee_parts_and_rate(api: Api, activated_user: str) -> None:
    plans = plans_of(api, activated_user, 10_001)
    assert sorted(plans) == [1, 3, 6, 12]
    assert plans[1]["plan"] == "single" and plans[1]["fee_fen"] == 0 and plans[1]["parts_fen"] == [10_001]
    three = plans[3]
    assert three["fee_fen"] == 230 and three["fee_payer"] == "consumer"
    assert three["parts_fen"] == [3_411, 3_410, 3_410]
    assert three["apr_bps"] > 0 and len(three["schedule_checksum"]) == 32
    assert sum(plans[12]["parts_fen"]) == 10_001 + plans[12]["fee_fen"]


def test_below_the_eligible_amount_only_the_single_payment_is_offered(api: Api, activated_user: str) -> None:
    assert sorted(plans_of(api, activated_user, 9_999)) == [1]


def test_an_interest_free_product_shifts_the_fee_to_the_merchant(api: Api, activated_user: str) -> None:
    product = create_product(api)
    assert product["interest_free_parts"] == []
    free = interest_free_product(api, [3, 6])
    plans = plans_of(api, activated_user, PRICE, free["product_id"])
    assert plans[3]["fee_payer"] == "merchant" and plans[3]["fee_fen"] == 690
    assert plans[3]["parts_fen"] == [10_000, 10_000, 10_000] and plans[3]["apr_bps"] == 0
    assert plans[12]["fee_payer"] == "consumer" and sum(plans[12]["parts_fen"]) == PRICE + 2_250


def test_a_merchant_can_only_offer_plans_that_exist(api: Api) -> None:
    body = {"name": "耳机", "skus": [{"price_fen": PRICE, "stock": 1}], "interest_free_parts": [5]}
    r = api.post("/v1/merchant/products", body, as_=MERCHANT, roles=["merchant"])
    assert r.status_code == 422 and r.json["code"] == "unknown_plan"
