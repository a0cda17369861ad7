"""The whole story, then a scan: no full ID number, card number, name or token in any log
line, any response, or any raw DynamoDB item (beyond what must be stored: the card
gateway's token in the cards table and on the payment attempt that charged it)."""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pytest

from chalicelib import schedules
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.definitions import all_tables
from tests.conftest import ADULT_ID, Api, new_key
from tests.support.shopping import ADDRESS, create_product

CARD = "6222020200112233446"
NAME = "欧阳小明"
PHONE = ADDRESS["phone"]


@pytest.fixture
def seen(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Any:
    caplog.set_level(logging.DEBUG)
    return caplog, capsys


def test_the_whole_story_leaks_no_pii(api: Api, seen: Any) -> None:
    caplog, capsys = seen
    bodies: list[bytes] = []
    uid = "pii-story"

    def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        r = api.call(method, path, json_body=body, **kw)
        bodies.append(r.body)
        assert r.status_code < 500, (path, r.body)
        return r.json

    token = api.token(uid)
    call("POST", "/v1/me/identity", {"real_name": NAME, "id_number": ADULT_ID}, as_=uid)
    call("POST", "/v1/me/bank-cards", {"card_number": CARD}, as_=uid)
    call("POST", "/v1/me/bank-cards", {"card_number": CARD}, as_=uid)  # a 409 must not echo it either
    call("POST", "/v1/me/bank-cards", {"card_number": CARD[:-1] + "5"}, as_=uid)  # Luhn failure
    call("PUT", "/v1/me/payment-password", {"password": "135790"}, as_=uid)
    call("POST", "/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}, as_=uid)
    product = create_product(api)
    sku = product["skus"][0]["sku_id"]
    co = call(
        "POST",
        "/v1/checkout",
        {"items": [{"sku_id": sku, "quantity": 1}], "payment_method": "bnpl", "address": ADDRESS},
        as_=uid,
        idem=new_key(),
    )
    order = co["orders"][0]
    call(
        "POST",
        f"/v1/orders/{order['order_id']}/confirmation",
        {"challenge_id": order["challenge"]["challenge_id"], "password": "135790"},
        as_=uid,
        idem=new_key(),
    )
    call(
        "POST",
        f"/v1/orders/{order['order_id']}/confirmation",
        {"challenge_id": order["challenge"]["challenge_id"], "password": "000000"},
        as_=uid,
        idem=new_key(),
    )
    call("GET", "/v1/merchant/orders", as_="m-shop-1", roles=["merchant"])
    call(
        "POST",
        f"/v1/merchant/orders/{order['order_id']}/shipment",
        {"carrier": "SF", "tracking_number": "SF12345"},
        as_="m-shop-1",
        roles=["merchant"],
    )
    call("POST", f"/v1/orders/{order['order_id']}/receipt", as_=uid)
    call("POST", f"/v1/orders/{order['order_id']}/review", {"rating": 5, "text": "好"}, as_=uid)
    call("GET", f"/v1/orders/{order['order_id']}", as_=uid)
    clock.advance(8 * 86400)
    for job in schedules.names():
        schedules.run(job, clock.now())
    call("POST", f"/v1/orders/{order['order_id']}/payments", {"channel": "card"}, as_=uid, idem=new_key())
    call("GET", "/v1/wallet", as_=uid)
    call("GET", "/v1/wallet/entries", as_=uid)
    call("POST", "/v1/wallet/redemptions", {"amount_fen": 10}, as_=uid, idem=new_key())
    call("GET", "/v1/me/notifications", as_=uid)
    call("GET", "/v1/me", as_=uid)
    call("GET", "/v1/me/bank-cards", as_=uid)

    logs = capsys.readouterr().out + capsys.readouterr().err + "\n".join(r.getMessage() for r in caplog.records)
    logs += "\n".join(json.dumps(r.__dict__, default=str, ensure_ascii=False) for r in caplog.records)
    responses = b"".join(bodies).decode()
    ddb = boto3.client("dynamodb", region_name=settings().region)
    items: dict[str, str] = {}
    for table in all_tables():
        items[table.name] = json.dumps(ddb.scan(TableName=table.table_name)["Items"], ensure_ascii=False)
    card_token = json.loads(items["cards"])[0]["gateway_token"]["S"]

    for secret, where in [
        (ADULT_ID, "ID number"),
        (CARD, "card number"),
        (NAME, "real name"),
        (token, "bearer token"),
        (card_token, "card gateway token"),
        ("135790", "payment password"),
    ]:
        assert secret not in logs, f"{where} in the logs"
        assert secret not in responses, f"{where} in a response"
    for table, dump in items.items():
        assert ADULT_ID not in dump, f"full ID number stored in {table}"
        assert CARD not in dump, f"full card number stored in {table}"
        assert NAME not in dump, f"plain real name stored in {table}"
        assert token not in dump, f"bearer token stored in {table}"
        # The gateway token replaces the number: the card and the attempt that charged it
        # (needed to query the gateway about that charge) hold it, nothing else.
        if table not in ("cards", "payments"):
            assert card_token not in dump, f"card gateway token copied into {table}"
    assert PHONE not in logs, "the shipping phone number in the logs"
