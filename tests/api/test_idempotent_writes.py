"""Every state-changing POST/PUT takes an optional Idempotency-Key: a retry with the same key
and body replays the first answer (`Idempotent-Replayed: true`) instead of acting again or
refusing; without a key the call is answered afresh."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api, new_key
from tests.support.fulfilment import MERCHANT, place, ship
from tests.support.fulfilment import product as product  # noqa: F401  (the fixture)

MERCHANT_ROLES = {"as_": MERCHANT, "roles": ["merchant"]}


def _document_writes(app_module: Any) -> list[tuple[str, str, dict[str, Any]]]:
    from chalice.test import Client

    with Client(app_module.app) as client:
        import json

        doc = json.loads(client.http.get("/v1/openapi.json").body)
    return [(m, p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


def test_every_signed_in_post_and_put_declares_an_idempotency_key(app_module: Any) -> None:
    missing = [
        (method, path)
        for method, path, op in _document_writes(app_module)
        if method in ("post", "put")
        and op["security"]
        and not any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
    ]
    assert missing == []


def test_a_retried_shipment_with_its_key_replays_instead_of_conflicting(
    api: Api,
    activated_user: str,
    product: dict[str, Any],  # noqa: F811
) -> None:
    order_id = place(api, activated_user, product)
    body, key = {"carrier": "SF", "tracking_number": "SF1234567890"}, new_key()
    path = f"/v1/merchant/orders/{order_id}/shipment"
    first = api.post(path, body, idem=key, **MERCHANT_ROLES)
    again = api.post(path, body, idem=key, **MERCHANT_ROLES)
    assert first.status_code == again.status_code == 200 and first.body == again.body
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    other = api.post(path, {**body, "tracking_number": "SF0000000001"}, idem=key, **MERCHANT_ROLES)
    assert other.status_code == 422 and other.json["code"] == "idempotency_key_reused"
    fresh = ship(api, order_id)  # no key: answered afresh, the order has shipped
    assert fresh.status_code == 409 and fresh.json["code"] == "illegal_transition"


def test_a_retried_bank_card_message_and_address_are_each_added_once(api: Api, activated_user: str) -> None:
    cards_before = len(api.get("/v1/me/bank-cards", as_=activated_user).json["items"])
    key = new_key()
    card = [api.post("/v1/me/bank-cards", {"card_number": "6217001234567890122"}, as_=activated_user, idem=key)]
    card.append(api.post("/v1/me/bank-cards", {"card_number": "6217001234567890122"}, as_=activated_user, idem=key))
    assert [r.status_code for r in card] == [201, 201] and card[0].json == card[1].json
    assert len(api.get("/v1/me/bank-cards", as_=activated_user).json["items"]) == cards_before + 1
    address = {"name": "张三", "phone": "13800138000", "line1": "建国路 1 号", "city": "北京"}
    key = new_key()
    made = [api.post("/v1/me/addresses", address, as_=activated_user, idem=key) for _ in range(2)]
    assert made[0].json == made[1].json and made[1].headers["Idempotent-Replayed"] == "true"
    assert len(api.get("/v1/me/addresses", as_=activated_user).json["items"]) == 1


def test_a_key_sent_to_a_put_is_honoured_too(api: Api, activated_user: str) -> None:
    key = new_key()
    first = api.put(
        "/v1/me/payment-password", {"password": "246801", "old_password": "135790"}, as_=activated_user, idem=key
    )
    again = api.put(
        "/v1/me/payment-password", {"password": "246801", "old_password": "135790"}, as_=activated_user, idem=key
    )
    assert first.status_code == again.status_code == 200, first.json
    assert again.headers["Idempotent-Replayed"] == "true"


def test_an_optional_key_that_is_sent_must_be_a_key(api: Api, activated_user: str) -> None:
    address = {"name": "张三", "phone": "13800138000", "line1": "建国路 1 号", "city": "北京"}
    for bad, code in (("", "missing_idempotency_key"), ("short", "invalid_idempotency_key")):
        r = api.call(
            "POST", "/v1/me/addresses", as_=activated_user, json_body=address, headers={"Idempotency-Key": bad}
        )
        assert r.status_code == 400 and r.json["code"] == code, (bad, r.json)
    assert api.get("/v1/me/addresses", as_=activated_user).json["items"] == []
