"""Short lists (addresses, bank cards, an order's return requests and disputes, webhook
endpoints) take the paging every list takes — `limit`, `cursor`, `next_cursor` (SPEC
'Conventions') — so an app's one pager works everywhere; without `limit` they answer whole,
as before. Found by the mobile team's walk: `?limit=20` was a 400 there."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.support.aftersale import escalate, rejected
from tests.support.aftersale import received as received  # noqa: F401  (the fixture)
from tests.support.fulfilment import product as product  # noqa: F401  (the fixture)

HOME = {"name": "李四", "phone": "13900139000", "line1": "中关村大街 27 号", "city": "北京"}


def walk(api: Api, path: str, as_: str, **kw: Any) -> list[str]:
    """Every page of `path` at one item a page: the items' ids in order."""
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        r = api.get(f"{path}?limit=1" + (f"&cursor={cursor}" if cursor else ""), as_=as_, **kw)
        assert r.status_code == 200, r.json
        assert len(r.json["items"]) <= 1 and "next_cursor" in r.json
        seen += [next(v for k, v in item.items() if k.endswith("_id")) for item in r.json["items"]]
        cursor = r.json["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the pages never end")


def whole(api: Api, path: str, as_: str, **kw: Any) -> list[str]:
    r = api.get(path, as_=as_, **kw)
    assert r.status_code == 200, r.json
    assert r.json["next_cursor"] is None
    return [next(v for k, v in item.items() if k.endswith("_id")) for item in r.json["items"]]


def test_addresses_and_cards_page_like_every_list(api: Api, activated_user: str) -> None:
    user = activated_user
    for city in ("北京", "上海", "广州"):
        assert api.post("/v1/me/addresses", {**HOME, "city": city}, as_=user).status_code == 201
    assert api.post("/v1/me/bank-cards", {"card_number": "6217001234567890122"}, as_=user).status_code == 201
    for path in ("/v1/me/addresses", "/v1/me/bank-cards"):
        everything = whole(api, path, user)
        assert len(everything) >= 2
        assert walk(api, path, user) == everything
    bad = api.get("/v1/me/addresses?limit=1&cursor=bm90LWEtY3Vyc29y", as_=user)
    assert bad.status_code == 400 and bad.json["code"] == "invalid_cursor"
    assert api.get("/v1/me/bank-cards?limit=101", as_=user).status_code == 400


def test_an_orders_return_requests_and_disputes_page(api: Api, activated_user: str, received: str) -> None:
    user, oid = activated_user, received
    rejected(api, user, oid)
    opened = escalate(api, user, oid)
    assert opened.status_code == 201, opened.json
    for path in (f"/v1/orders/{oid}/return-requests", f"/v1/orders/{oid}/disputes"):
        everything = whole(api, path, user)
        assert len(everything) == 1
        assert walk(api, path, user) == everything
    # A cursor is bound to its list: one order's cursor is refused on another list.
    assert api.get(f"/v1/orders/{oid}/disputes?limit=1&cursor=x", as_=user).json["code"] == "invalid_cursor"


def test_webhook_endpoints_page(api: Api) -> None:
    merchant = "m-paging"
    for n in range(3):
        body = {"url": f"http://127.0.0.1:9/hook{n}", "events": ["order.paid"]}
        made = api.post("/v1/merchant/webhook-endpoints", body, as_=merchant, roles=["merchant"])
        assert made.status_code == 201, made.json
    path = "/v1/merchant/webhook-endpoints"
    everything = whole(api, path, merchant, roles=["merchant"])
    assert len(everything) == 3
    assert walk(api, path, merchant, roles=["merchant"]) == everything
