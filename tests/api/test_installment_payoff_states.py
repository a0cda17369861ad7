"""The schedule's `payoff_fen` while an installment order waits on someone else (a risk
operator, or the merchant's answer to a return request): what is owed does not drop to 0
while nothing has been paid or refunded (found by the mobile team's walk)."""

from __future__ import annotations

from tests.conftest import Api
from tests.support.installments import PRICE, buy_in_parts, received_in_parts, schedule_of
from tests.support.shopping import confirm, create_product


def test_a_held_installment_order_shows_what_it_will_cost(api: Api, activated_user: str) -> None:
    price = 35_000  # a first order above ¥300: held for a risk operator
    product = create_product(api, skus=[{"attributes": {"规格": "标准"}, "price_fen": price, "stock": 3}])
    placed = buy_in_parts(api, activated_user, price=price, product=product)
    assert placed.status_code == 201, placed.json
    order = placed.json["orders"][0]
    held = confirm(api, activated_user, order)
    assert held.status_code == 202 and held.json["status"] == "risk_review", held.json
    shown = schedule_of(api, activated_user, order["order_id"])
    assert shown["payoff_fen"] == sum(p["amount_fen"] for p in shown["parts"]) > 0  # as once placed


def test_a_pending_return_request_does_not_zero_the_payoff(api: Api, activated_user: str) -> None:
    oid = received_in_parts(api, activated_user)
    before = schedule_of(api, activated_user, oid)["payoff_fen"]
    assert before == PRICE + 230
    asked = api.post(f"/v1/orders/{oid}/return-requests", {"reason": "不想要了"}, as_=activated_user)
    assert asked.status_code == 201, asked.json
    assert api.get(f"/v1/orders/{oid}", as_=activated_user).json["status"] == "return_requested"
    assert schedule_of(api, activated_user, oid)["payoff_fen"] == before
