"""PIPL: the data export (complete, paged, masked) and account closure (refusals, erasure,
revocation, retention)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from pynamodb.models import Model

from chalicelib import schedules
from chalicelib.api import dev
from chalicelib.channels import card_vault
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.definitions import all_tables
from chalicelib.local import worker
from chalicelib.models.addresses import Address
from chalicelib.models.orders import Order
from chalicelib.models.registry import all_models
from chalicelib.models.timers import Timer
from chalicelib.models.users import BankCard, Device, User
from chalicelib.schemas.me import DeviceIn
from chalicelib.services import privacy
from tests.conftest import ADULT_ID, Api, new_key
from tests.support.fulfilment import MERCHANT, place, ship
from tests.support.shopping import PASSWORD, DeviceKey, create_product
from tests.support.wallet import earn

NAME = "欧阳小明"
PHONE = "13912345678"
MY_ADDRESS = {"name": NAME, "phone": PHONE, "line1": "中关村大街1号", "city": "北京"}
CARD = "6222020200112233446"
# Attribute names that hold a user's id: a model with one holds that user's data.
USER_KEYS = ("user_id", "owner", "user_day")


def _is_user_keyed(model: type[Model]) -> bool:
    names = set(model.get_attributes())
    return bool(names & set(USER_KEYS)) or model.__name__ in ("Entry", "Balance")


def test_every_model_with_a_user_key_is_exported_or_excused() -> None:
    keyed = [m for m in all_models() if _is_user_keyed(m)]
    missing = [m.__name__ for m in keyed if m not in privacy.EXPORTED and m not in privacy.NOT_EXPORTED]
    assert missing == [], f"add these to privacy.sections() / EXPORTED (or NOT_EXPORTED with a reason): {missing}"
    assert set(privacy.EXPORTED.values()) <= set(privacy.sections("u-x")), "each exported model names a section"
    assert all(reason.strip() for reason in privacy.NOT_EXPORTED.values())


def test_the_completeness_rule_catches_a_new_user_table() -> None:
    from pynamodb.attributes import UnicodeAttribute

    class Address(Model):  # what issue 14 adds: the test must then force it into the export
        class Meta:
            table_name = "x"

        user_id = UnicodeAttribute(hash_key=True)

    assert _is_user_keyed(Address) and Address not in privacy.EXPORTED and Address not in privacy.NOT_EXPORTED


def _story(api: Api, uid: str, product: dict[str, Any]) -> str:
    """A user with data in every part of the product; returns a paid, completed order id."""
    assert api.post("/v1/me/identity", {"real_name": NAME, "id_number": ADULT_ID}, as_=uid).status_code == 200
    assert api.post("/v1/me/bank-cards", {"card_number": CARD}, as_=uid).status_code == 201
    assert api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=uid).status_code == 200
    device = DeviceKey()
    body = {"device_id": "phone-1", "public_key_pem": device.public_pem}
    if "password" in DeviceIn.model_fields:  # registering a device is a step-up (SPEC)
        body["password"] = PASSWORD
    assert api.post("/v1/me/devices", body, as_=uid).status_code == 201
    r = api.post("/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}, as_=uid)
    assert r.status_code == 201, r.json
    items = [{"sku_id": product["skus"][0]["sku_id"], "quantity": 1}]
    body = {"items": items, "payment_method": "bnpl", "address": MY_ADDRESS}
    order = api.post("/v1/checkout", body, as_=uid, idem=new_key()).json["orders"][0]
    order_id = order["order_id"]
    challenge = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD}
    assert api.post(f"/v1/orders/{order_id}/confirmation", challenge, as_=uid, idem=new_key()).status_code == 200
    saved = api.post("/v1/me/addresses", {**MY_ADDRESS, "line1": "望京SOHO 2号"}, as_=uid)
    assert saved.status_code == 201, saved.json
    said = api.post(f"/v1/orders/{order_id}/messages", {"text": f"我是{NAME}，电话{PHONE}"}, as_=uid)
    assert said.status_code == 201, said.json
    ship(api, order_id)
    assert api.post(f"/v1/orders/{order_id}/receipt", as_=uid).status_code == 200
    r = api.post(f"/v1/orders/{order_id}/payments", {"channel": "card"}, as_=uid, idem=new_key())
    assert r.status_code in (200, 201), r.json
    sku = product["skus"][1]["sku_id"]
    api.put(f"/v1/cart/items/{sku}", {"quantity": 1, "selected": True}, as_=uid)
    return order_id


@pytest.fixture
def product(api: Api) -> dict[str, Any]:
    return create_product(
        api,
        MERCHANT,
        skus=[
            {"attributes": {"颜色": "黑色"}, "price_fen": 3990, "stock": 50},
            {"attributes": {"颜色": "粉色"}, "price_fen": 2990, "stock": 50},
        ],
    )


def _export(api: Api, uid: str, limit: int = 100) -> dict[str, list[dict[str, Any]]]:
    merged: dict[str, list[dict[str, Any]]] = {}
    cursor, pages = None, 0
    while True:
        path = f"/v1/me/data-export?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = api.get(path, as_=uid)
        assert r.status_code == 200, r.json
        for name, items in r.json["sections"].items():
            merged.setdefault(name, []).extend(items)
        pages += 1
        cursor = r.json["next_cursor"]
        if not cursor:
            return merged
        assert pages < 200


def _items_mentioning(text: str) -> dict[str, list[dict[str, Any]]]:
    """Every raw item of every table whose JSON contains `text` (tests may scan)."""
    ddb = boto3.client("dynamodb", region_name=settings().region)
    found: dict[str, list[dict[str, Any]]] = {}
    # As stored, or inside a JSON attribute (PynamoDB writes those with \\u escapes).
    forms = {text, json.dumps(text)[1:-1].replace("\\", "\\\\")}
    for table in all_tables():
        for page in ddb.get_paginator("scan").paginate(TableName=table.table_name):
            for item in page["Items"]:
                dump = json.dumps(item, ensure_ascii=False)
                if any(form in dump for form in forms):
                    found.setdefault(table.name, []).append(item)
    return found


def test_the_export_holds_every_item_about_the_user_and_no_full_number(api: Api, product: dict[str, Any]) -> None:
    uid = "u-export"
    _story(api, uid, product)
    earn(uid, 5_000)  # points and a coupon
    export = _export(api, uid)
    assert export["profile"][0]["id_number_masked"] != ADULT_ID and export["profile"][0]["real_name_masked"]
    assert export["profile"][0]["real_name"] == NAME  # their own name, in full
    assert [c["last4"] for c in export["bank_cards"]] == ["3446"]
    assert export["devices"] and export["orders"] and export["wallet_entries"] and export["notifications"]
    assert export["payment_attempts"] and export["cart"]
    assert export["addresses"][0]["line1"] == "望京SOHO 2号" and NAME in export["order_messages"][0]["text"]
    dump = json.dumps(export, ensure_ascii=False)
    for secret in (ADULT_ID, CARD, card_vault.tokenize(CARD).token):  # their own address may show
        assert secret not in dump, secret
    # Every table holding an item about the user is in the export, item for item.
    by_table = {t.model: t.name for t in all_tables()}
    exported_tables = {by_table[m]: section for m, section in privacy.EXPORTED.items()}
    excused = {by_table[m] for m in privacy.NOT_EXPORTED}
    for table, items in _items_mentioning(uid).items():
        assert table in exported_tables or table in excused, f"{table} holds the user's data and is not exported"
        if table in exported_tables:
            section = json.dumps(export.get(exported_tables[table], []), ensure_ascii=False)
            for item in items:
                keys = [
                    v
                    for k, v in item.items()
                    if k
                    in (
                        "order_id",
                        "entry_id",
                        "notification_id",
                        "card_id",
                        "device_id",
                        "attempt_id",
                        "coupon_id",
                        "sku_id",
                        "book",
                        "address_id",
                        "message_id",
                    )
                ]
                assert all(next(iter(v.values())) in section for v in keys), (table, item)


def test_the_export_pages_through_every_section(api: Api, product: dict[str, Any]) -> None:
    uid = "u-pages"
    _story(api, uid, product)
    whole, paged = _export(api, uid), _export(api, uid, limit=1)
    assert paged == whole
    bad = api.get("/v1/me/data-export?cursor=abc", as_=uid)
    assert bad.status_code == 400 and bad.json["code"] == "invalid_cursor"
    other = api.get(f"/v1/me/data-export?cursor={_first_cursor(api, uid)}", as_="u-someone-else")
    assert other.status_code == 400


def test_each_export_section_pages_like_every_list(api: Api, product: dict[str, Any]) -> None:
    uid = "u-section-pages"
    order_id = _story(api, uid, product)
    for n in range(3):  # one order's items fill several pages
        assert api.post(f"/v1/orders/{order_id}/messages", {"text": f"第{n}条"}, as_=uid).status_code == 201
    whole = _export(api, uid)
    assert len(whole["order_messages"]) >= 4
    for name, items in whole.items():
        paged: list[dict[str, Any]] = []
        cursor, pages = None, 0
        while True:
            r = api.get(f"/v1/me/data-export/{name}?limit=1" + (f"&cursor={cursor}" if cursor else ""), as_=uid)
            assert r.status_code == 200 and r.json["section"] == name, r.json
            assert len(r.json["items"]) <= 1, (name, r.json["items"])
            paged += r.json["items"]
            cursor, pages = r.json["next_cursor"], pages + 1
            if not cursor:
                break
            assert pages < 100
        assert paged == items, name
    first = api.get("/v1/me/data-export/wallet_entries?limit=1", as_=uid).json["next_cursor"]
    assert first
    for elsewhere, who in (("orders", uid), ("wallet_entries", "u-someone-else")):
        r = api.get(f"/v1/me/data-export/{elsewhere}?cursor={first}", as_=who)
        assert r.status_code == 400 and r.json["code"] == "invalid_cursor"
    r = api.get("/v1/me/data-export/secrets", as_=uid)
    assert r.status_code == 404 and r.json["code"] == "not_found"
    r = api.get("/v1/me/data-export/orders?limit=101", as_=uid)
    assert r.status_code == 400


def _first_cursor(api: Api, uid: str) -> str:
    return str(api.get("/v1/me/data-export?limit=1", as_=uid).json["next_cursor"])


def _obstacles(r: Any) -> list[str]:
    assert r.status_code == 409 and r.json["code"] == "account_not_closable", r.json
    return sorted(e["field"] for e in r.json["errors"])


def test_closure_is_refused_naming_each_open_item(api: Api, activated_user: str, product: dict[str, Any]) -> None:
    uid = activated_user
    order_id = place(api, uid, product)
    assert _obstacles(api.post("/v1/me/closure", as_=uid)) == ["open_orders", "unpaid_bnpl_orders"]
    ship(api, order_id)
    api.post(f"/v1/orders/{order_id}/receipt", as_=uid)
    api.post(f"/v1/orders/{order_id}/return-requests", {"reason": "不合适"}, as_=uid)
    assert _obstacles(api.post("/v1/me/closure", as_=uid)) == ["open_returns", "unpaid_bnpl_orders"]
    r = api.post(f"/v1/orders/{order_id}/payments", {"channel": "card"}, as_=uid, idem=new_key())
    assert r.status_code == 409  # a return is open: paid after it is decided
    requests = api.get("/v1/merchant/return-requests?status=pending", as_=MERCHANT, roles=["merchant"]).json
    api.post(
        f"/v1/merchant/return-requests/{requests['items'][0]['request_id']}/decision",
        {"decision": "reject", "note": "no"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert api.post(f"/v1/orders/{order_id}/payments", {"channel": "card"}, as_=uid, idem=new_key()).status_code < 300
    earn(uid, 10_000)
    clock.advance(settings().rules.redemption_min_account_age_seconds + 60)
    r = api.post("/v1/wallet/redemptions", {"amount_fen": 100}, as_=uid, idem=new_key())
    assert r.status_code in (201, 202), r.json
    assert _obstacles(api.post("/v1/me/closure", as_=uid)) == ["pending_redemptions"]
    worker.drain(dev.QUEUE_HANDLERS)
    assert _obstacles(api.post("/v1/me/closure", as_=uid)) == ["cash_balance"]


def test_closure_erases_personal_data_revokes_the_account_and_keeps_orders_for_retention(
    api: Api, product: dict[str, Any]
) -> None:
    uid = "u-closing"
    order_id = _story(api, uid, product)
    assert _items_mentioning(NAME) and _items_mentioning("*" * 3 + NAME[-1])  # it was there
    r = api.post("/v1/me/closure", as_=uid)
    assert r.status_code == 200, r.json
    assert r.json["closed_at"] and r.json["retention_until"] > r.json["closed_at"]
    # No trace of the name or ID number in any table (idempotency records replaying
    # earlier responses expire by TTL within a day: none of them may hold the ID number).
    left = {**_items_mentioning(NAME), **_items_mentioning(PHONE), **_items_mentioning("*" * 3 + NAME[-1])}
    assert set(left) <= {"idempotency"}, {k: len(v) for k, v in left.items()}
    ttl = settings().rules.idempotency_ttl_seconds
    assert all(int(i["expires_at"]["N"]) <= clock.now().timestamp() + ttl for i in left.get("idempotency", []))
    assert _items_mentioning(ADULT_ID) == {} and _items_mentioning(ADULT_ID[-6:]) == {}
    assert _items_mentioning(card_vault.tokenize(CARD).token) == {}  # cards and their tokens are gone
    assert not list(BankCard.query(uid)) and not list(Device.query(uid)) and not list(Address.query(uid))
    closed = User.get(uid)  # nothing of the default card stays, its keyed fingerprint neither
    assert (closed.default_card_id, closed.default_card_fingerprint) == (None, None)
    # The account is revoked: its tokens get a clear 401 everywhere.
    for method, path in [("GET", "/v1/me"), ("GET", "/v1/orders"), ("POST", "/v1/me/closure")]:
        denied = api.call(method, path, as_=uid)
        assert denied.status_code == 401 and denied.json["code"] == "account_closed", (path, denied.json)
    # Orders and wallet entries stay under the pseudonymous id until the retention timer.
    kept = Order.get(order_id)
    assert kept.user_id == uid and kept.address == privacy.ERASED_ADDRESS
    assert schedules.run("purge_closed_accounts", clock.now())["purged"] == 0
    clock.advance(settings().rules.closed_account_retention_seconds + 60)
    assert schedules.run("purge_closed_accounts", clock.now())["purged"] == 1
    assert list(Order.by_user.query(uid)) == []
    assert _items_mentioning(uid).keys() <= {"idempotency", "reviews"}
    assert schedules.run("purge_closed_accounts", clock.now())["purged"] == 0
    assert not [t for t in Timer.scan() if t.ref == uid]
