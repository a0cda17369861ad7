"""Order messages (联系商家客服): consumer ↔ merchant per order, visible to support, each one
a notification to the other side, paginated; another's thread is a 404."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.clock import clock
from chalicelib.models.messages import OrderMessage
from chalicelib.models.notifications import Notification
from tests.conftest import Api
from tests.support.shopping import MERCHANT, MERCHANT_2, checkout, confirm, create_product, sku_ids

SUPPORT = "s-support-1"


@pytest.fixture
def order_id(api: Api, activated_user: str) -> str:
    """An order the buyer confirmed (awaiting payment): the merchant may see it."""
    r = checkout(api, activated_user, [(sku_ids(create_product(api))[0], 1)], method="alipay")
    assert r.status_code == 201, r.json
    assert confirm(api, activated_user, r.json["orders"][0]).status_code == 200
    return str(r.json["orders"][0]["order_id"])


def test_a_merchant_sees_no_thread_of_an_order_the_buyer_has_not_confirmed(api: Api, activated_user: str) -> None:
    r = checkout(api, activated_user, [(sku_ids(create_product(api))[0], 1)], method="alipay")
    unconfirmed = r.json["orders"][0]["order_id"]
    assert api.get(f"/v1/merchant/orders/{unconfirmed}", **as_merchant()).status_code == 404
    for r in (
        api.get(merchant_path(unconfirmed), **as_merchant()),
        api.post(merchant_path(unconfirmed), {"text": "您好"}, **as_merchant()),
    ):
        assert r.status_code == 404 and r.json["code"] == "order_not_found", r.json
    assert "order_message" not in kinds(activated_user)
    # The buyer may write before confirming; the merchant hears of it only once it is confirmed.
    assert api.post(consumer_path(unconfirmed), {"text": "能换成粉色吗？"}, as_=activated_user).status_code == 201
    assert "order_message" not in kinds(MERCHANT)


def consumer_path(order_id: str) -> str:
    return f"/v1/orders/{order_id}/messages"


def merchant_path(order_id: str) -> str:
    return f"/v1/merchant/orders/{order_id}/messages"


def as_merchant(merchant: str = MERCHANT) -> dict[str, Any]:
    return {"as_": merchant, "roles": ["merchant"]}


def kinds(user_id: str) -> list[str]:
    return [n.kind for n in Notification.query(user_id)]


def test_consumer_and_merchant_talk_and_each_message_notifies_the_other(
    api: Api, activated_user: str, order_id: str
) -> None:
    asked = api.post(consumer_path(order_id), {"text": "能换成粉色吗？"}, as_=activated_user)
    assert asked.status_code == 201, asked.json
    assert (asked.json["author"], asked.json["text"]) == ("consumer", "能换成粉色吗？")
    assert asked.json["order_id"] == order_id
    assert kinds(MERCHANT) == ["order_message"] and "order_message" not in kinds(activated_user)
    clock.advance(1)
    answered = api.post(merchant_path(order_id), {"text": "可以，请申请换货"}, **as_merchant())
    assert answered.status_code == 201, answered.json
    assert kinds(activated_user).count("order_message") == 1
    [note] = [n for n in Notification.query(activated_user) if n.kind == "order_message"]
    assert note.ref == order_id and "可以" not in note.body  # the text stays out of pushes
    for r in (api.get(consumer_path(order_id), as_=activated_user), api.get(merchant_path(order_id), **as_merchant())):
        assert r.status_code == 200, r.json
        assert [(m["author"], m["text"]) for m in r.json["items"]] == [
            ("merchant", "可以，请申请换货"),
            ("consumer", "能换成粉色吗？"),
        ]
    # The merchant reads the notification through the same notifications route.
    seen = api.get("/v1/me/notifications", **as_merchant()).json
    assert [n["kind"] for n in seen["items"]] == ["order_message"]


def test_support_reads_any_thread_but_cannot_write(api: Api, activated_user: str, order_id: str) -> None:
    api.post(consumer_path(order_id), {"text": "还没发货"}, as_=activated_user)
    r = api.get(f"/v1/support/orders/{order_id}/messages", as_=SUPPORT, roles=["support"])
    assert r.status_code == 200, r.json
    assert [m["text"] for m in r.json["items"]] == ["还没发货"]
    for path in (consumer_path(order_id), merchant_path(order_id)):
        denied = api.post(path, {"text": "support here"}, as_=SUPPORT, roles=["support"])
        assert (denied.status_code, denied.json["code"]) == (403, "forbidden_role")
    missing = api.get("/v1/support/orders/o_missing/messages", as_=SUPPORT, roles=["support"])
    assert (missing.status_code, missing.json["code"]) == (404, "order_not_found")


def test_another_users_or_merchants_thread_is_a_404(api: Api, activated_user: str, order_id: str) -> None:
    api.post(consumer_path(order_id), {"text": "你好"}, as_=activated_user)
    for r in (
        api.get(consumer_path(order_id), as_="u-stranger"),
        api.post(consumer_path(order_id), {"text": "hi"}, as_="u-stranger"),
        api.get(merchant_path(order_id), **as_merchant(MERCHANT_2)),
        api.post(merchant_path(order_id), {"text": "hi"}, **as_merchant(MERCHANT_2)),
    ):
        assert (r.status_code, r.json["code"]) == (404, "order_not_found")
    assert len(list(OrderMessage.query(order_id))) == 1


@pytest.mark.parametrize(
    "text, status, code",
    [("", 400, "validation_failed"), ("   ", 400, "validation_failed"), ("x" * 1001, 400, "validation_failed")],
)
def test_blank_or_too_long_text_is_refused(
    api: Api, activated_user: str, order_id: str, text: str, status: int, code: str
) -> None:
    r = api.post(consumer_path(order_id), {"text": text}, as_=activated_user)
    assert (r.status_code, r.json["code"]) == (status, code)
    assert kinds(MERCHANT) == []
    if text.isspace():  # said in words a person understands, not as the pattern
        assert r.json["errors"] == [{"field": "text", "message": "must not be blank"}], r.json


def test_control_characters_only_is_refused_and_a_thousand_characters_is_fine(
    api: Api, activated_user: str, order_id: str
) -> None:
    r = api.post(consumer_path(order_id), {"text": "\u0007\u0008"}, as_=activated_user)
    assert (r.status_code, r.json["code"]) == (422, "invalid_message_text")
    assert api.post(consumer_path(order_id), {"text": "好" * 1000}, as_=activated_user).status_code == 201


def test_markup_is_text_returned_exactly_as_sent(api: Api, activated_user: str, order_id: str) -> None:
    r = api.post(consumer_path(order_id), {"text": '<script>alert("x")</script> & 5 > 3'}, as_=activated_user)
    assert r.json["text"] == '<script>alert("x")</script> & 5 > 3'
    listed = api.get(consumer_path(order_id), as_=activated_user).json["items"]
    assert [m["text"] for m in listed] == ['<script>alert("x")</script> & 5 > 3']
    [stored] = list(OrderMessage.query(order_id))
    assert stored.text == '<script>alert("x")</script> & 5 > 3'


def test_a_thread_is_paginated_newest_first(api: Api, activated_user: str, order_id: str) -> None:
    for i in range(5):
        api.post(consumer_path(order_id), {"text": f"第 {i} 条"}, as_=activated_user)
        clock.advance(1)
    seen: list[str] = []
    cursor = None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = api.get(consumer_path(order_id) + query, as_=activated_user).json
        seen += [m["text"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"第 {i} 条" for i in reversed(range(5))]
    # A cursor belongs to its thread: another order's list refuses it.
    first = api.get(consumer_path(order_id) + "?limit=2", as_=activated_user).json["next_cursor"]
    other = checkout(api, activated_user, [(sku_ids(create_product(api))[0], 1)], method="alipay").json
    r = api.get(consumer_path(other["orders"][0]["order_id"]) + f"?cursor={first}", as_=activated_user)
    assert (r.status_code, r.json["code"]) == (400, "invalid_cursor")
