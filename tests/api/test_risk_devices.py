"""Risk decisions (风控) by device: every 先用后付 confirmation counts against the device it was
made from, with the payment password as with a device signature ("20 a day per device")."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import errors
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.models.risk import RiskDecision
from chalicelib.services import confirmation
from chalicelib.services.risk import decide
from tests.conftest import Api, new_key
from tests.support.model_based import card_ending, unique_id_number
from tests.support.shopping import (
    PASSWORD,
    DeviceKey,
    checkout,
    create_product,
    racing_transactions,
    run_together,
    sku_ids,
)


def activated(api: Api, uid: str, last4: str) -> str:
    """A 先用后付 user with a card of their own (the card is a risk dimension too)."""
    identity = {"real_name": "张三", "id_number": unique_id_number()}
    assert api.post("/v1/me/identity", identity, as_=uid).status_code == 200
    assert api.post("/v1/me/bank-cards", {"card_number": card_ending(last4)}, as_=uid).status_code == 201
    assert api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=uid).status_code == 200
    r = api.post("/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}, as_=uid)
    assert r.status_code == 201, r.json
    return uid


def confirm_by_password(api: Api, user: str, sku: str, device_id: str | None) -> Any:
    order = checkout(api, user, [(sku, 1)]).json["orders"][0]
    body = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD}
    if device_id is not None:
        body["device_id"] = device_id
    answer = api.post(f"/v1/orders/{order['order_id']}/confirmation", body, as_=user, idem=new_key())
    answer.order_id = order["order_id"]
    return answer


def reasons_of(order_id: str) -> list[str]:
    decision = RiskDecision.get(decide.decision_id(order_id), consistent_read=True)
    return [r["rule_id"] for r in decision.reasons]


def test_the_21st_password_confirmation_a_day_from_one_device_is_declined(api: Api) -> None:
    """Three accounts on one phone (a device farm), each with its own card, confirming with the
    password, slowly enough for no account's hourly limit: the device's 21st is declined."""
    sku = sku_ids(create_product(api, skus=[{"attributes": {"规格": "标准"}, "price_fen": 1000, "stock": 50}]))[0]
    users = [activated(api, f"u-farm-{n}", last4) for n, last4 in enumerate(["1111", "2222", "3333"])]
    answers = []
    for _ in range(7):
        answers += [confirm_by_password(api, user, sku, "farm-phone-1") for user in users]
        clock.advance(20 * 60)
    assert [a.status_code for a in answers] == [200] * 20 + [402], [a.json for a in answers]
    assert answers[-1].json["code"] == "bnpl_declined"
    assert reasons_of(answers[-1].order_id) == ["device_orders_24h"]
    other = confirm_by_password(api, users[0], sku, "another-phone")  # another device, same account
    assert other.status_code == 200, other.json


def test_a_password_confirmation_naming_no_device_counts_against_the_device_registered(api: Api, rules: Any) -> None:
    doc = json.loads(settings().rules.risk_rules)
    doc["rules"] = [{"id": "device_burst", "if": [["device_orders_24h", ">=", 2]], "outcome": "decline", "reason": "v"}]
    rules(risk_rules=json.dumps(doc))
    user = activated(api, "u-one-phone", "4444")
    key = DeviceKey()
    body = {"device_id": "phone-1", "public_key_pem": key.public_pem, "password": PASSWORD}
    assert api.post("/v1/me/devices", body, as_=user).status_code == 201
    sku = sku_ids(create_product(api, skus=[{"attributes": {"规格": "标准"}, "price_fen": 1000, "stock": 50}]))[0]
    answers = [confirm_by_password(api, user, sku, None) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 402]
    assert reasons_of(answers[-1].order_id) == ["device_burst"]


def test_two_accounts_confirming_at_once_on_one_device_cannot_both_pass_its_limit(api: Api, rules: Any) -> None:
    """The device's counter is added to on condition of the count the decision read, like the
    user's and the card's: the later of two racing confirmations decides again (declined)."""
    doc = json.loads(settings().rules.risk_rules)
    doc["rules"] = [{"id": "device_once", "if": [["device_orders_24h", ">=", 1]], "outcome": "decline", "reason": "v"}]
    rules(risk_rules=json.dumps(doc))
    users = [activated(api, f"u-race-{n}", last4) for n, last4 in enumerate(["5555", "6666"])]
    sku = sku_ids(create_product(api, skus=[{"attributes": {}, "price_fen": 1000, "stock": 5}]))[0]
    orders = [checkout(api, user, [(sku, 1)]).json["orders"][0] for user in users]

    def confirming(user: str, order: dict[str, Any]) -> Any:
        challenge = order["challenge"]["challenge_id"]
        return lambda: confirmation.confirm(
            user,
            order["order_id"],
            challenge_id=challenge,
            password=PASSWORD,
            device_id="farm-phone-2",
            signature=None,
            now=clock.now(),
        )

    with racing_transactions(2, first_only=True):
        results = run_together(*(confirming(u, o) for u, o in zip(users, orders, strict=True)))
    assert not any(isinstance(r, Exception) and not isinstance(r, errors.DomainError) for r in results), results
    assert sorted(getattr(r, "code", "ok") for r in results) == ["bnpl_declined", "ok"], results
