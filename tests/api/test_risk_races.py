"""Risk bypasses (outside tester, round 2): parallel confirmations past a velocity limit, and
one card bound to two accounts counted as two cards."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import errors
from chalicelib.config import settings
from chalicelib.models.orders import Order
from chalicelib.services.risk import rules as risk_rules
from tests.conftest import Api, new_key
from tests.support.shopping import (
    PASSWORD,
    checkout,
    confirm,
    confirming,
    create_product,
    racing_transactions,
    run_together,
    sku_ids,
)

CARD = "6222020200112233446"  # the activated_user fixture's card


def with_rule(rules: Any, rule: dict[str, Any]) -> None:
    """The default rule set with `rule` added in its place (SPEC order)."""
    doc = json.loads(settings().rules.risk_rules)
    doc["version"] = "test"
    doc["rules"] = sorted([*doc["rules"], rule], key=lambda r: risk_rules.RANK[r["outcome"]])
    rules(risk_rules=json.dumps(doc))


def activated_with_card(api: Api, user: str, id_number: str, card_number: str) -> str:
    assert api.post("/v1/me/identity", {"real_name": "李四", "id_number": id_number}, as_=user).status_code == 200
    assert api.post("/v1/me/bank-cards", {"card_number": card_number}, as_=user).status_code == 201
    assert api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=user).status_code == 200
    r = api.post("/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}, as_=user)
    assert r.status_code == 201, r.json
    return user


def only_domain_errors(results: list[Any]) -> None:
    assert not any(isinstance(r, Exception) and not isinstance(r, errors.DomainError) for r in results), results


def test_two_confirmations_at_once_cannot_both_pass_a_velocity_limit(api: Api, activated_user: str, rules: Any) -> None:
    """A user allowed one 先用后付 order a day confirms two at once: both read a count of 0
    before either adds to it; the later transaction's counter condition fails and it decides
    again with the fresh count (declined)."""
    with_rule(rules, {"id": "one_a_day", "if": [["user_orders_24h", ">=", 1]], "outcome": "decline", "reason": "v"})
    sku = sku_ids(create_product(api, skus=[{"attributes": {}, "price_fen": 1000, "stock": 5}]))[0]
    orders = [checkout(api, activated_user, [(sku, 1)]).json["orders"][0] for _ in range(2)]
    with racing_transactions(2, first_only=True):
        results = run_together(*(confirming(activated_user, o) for o in orders))
    only_domain_errors(results)
    placed = [o for o in orders if Order.get(o["order_id"], consistent_read=True).status == "placed"]
    assert len(placed) == 1, results
    assert sorted(getattr(r, "code", "ok") for r in results) == ["bnpl_declined", "ok"], results


def test_the_same_card_bound_to_a_second_account_is_still_the_same_card(
    api: Api, activated_user: str, rules: Any
) -> None:
    with_rule(rules, {"id": "card_once", "if": [["card_orders_24h", ">=", 1]], "outcome": "decline", "reason": "v"})
    other = activated_with_card(api, "u-same-card", "110105199003070017", CARD)
    sku = sku_ids(create_product(api, skus=[{"attributes": {}, "price_fen": 1000, "stock": 5}]))[0]
    first = checkout(api, activated_user, [(sku, 1)]).json["orders"][0]
    assert confirm(api, activated_user, first).status_code == 200
    second = checkout(api, other, [(sku, 1)]).json["orders"][0]
    r = confirm(api, other, second)
    assert r.status_code == 402 and r.json["code"] == "bnpl_declined", r.json


def test_a_card_blocked_by_its_number_is_blocked_on_every_account(api: Api, activated_user: str) -> None:
    """The block list knows a card by its fingerprint: entered as the number, it matches
    every account the card is bound to (and the number is never stored nor answered)."""
    other = activated_with_card(api, "u-blocked-card", "110105199003070017", CARD)
    r = api.post(
        "/v1/risk/blocklist",
        {"kind": "card", "value": CARD, "reason": "stolen"},
        as_="k-1",
        roles=["risk"],
        idem=new_key(),
    )
    assert r.status_code == 201, r.json
    assert CARD not in json.dumps(r.json)
    sku = sku_ids(create_product(api, skus=[{"attributes": {}, "price_fen": 1000, "stock": 5}]))[0]
    for user in (activated_user, other):
        order = checkout(api, user, [(sku, 1)]).json["orders"][0]
        assert confirm(api, user, order).status_code == 402


def test_two_buyers_of_one_merchant_at_once_do_not_conflict(api: Api, activated_user: str, rules: Any) -> None:
    """The merchant's counters are not conditioned (a flash sale would make every confirmation
    conflict): two buyers confirming at once under a merchant rule are both placed, counted."""
    with_rule(rules, {"id": "m_busy", "if": [["merchant_orders_24h", ">=", 99]], "outcome": "decline", "reason": "v"})
    other = activated_with_card(api, "u-other-buyer", "110105199003070017", "6222020200112233461")
    sku = sku_ids(create_product(api, skus=[{"attributes": {}, "price_fen": 1000, "stock": 5}]))[0]
    orders = [checkout(api, user, [(sku, 1)]).json["orders"][0] for user in (activated_user, other)]
    with racing_transactions(2, first_only=True):
        results = run_together(*(confirming(user, o) for user, o in zip((activated_user, other), orders, strict=True)))
    assert not any(isinstance(r, Exception) for r in results), results
    assert all(Order.get(o["order_id"], consistent_read=True).status == "placed" for o in orders)
