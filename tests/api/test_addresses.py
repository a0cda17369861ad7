"""The address book (guide step 4's 收货地址): ≤ 20 addresses, one default, checkout by
`address_id` with the order keeping a copy as it was."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from chalicelib.clock import clock
from chalicelib.errors import DomainError
from chalicelib.models.users import User
from chalicelib.services import addresses
from tests.conftest import Api, new_key
from tests.support.shopping import ADDRESS, create_product, racing_transactions, run_together, sku_ids

HOME = {"name": "李四", "phone": "13900139000", "line1": "海淀区中关村大街 27 号", "city": "北京"}
WORK = {"name": "李四", "phone": "13900139000", "line1": "浦东新区世纪大道 100 号", "city": "上海"}


def add(api: Api, user: str, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post("/v1/me/addresses", body, as_=user)
    assert r.status_code == 201, r.json
    return dict(r.json)


def book(api: Api, user: str) -> dict[str, Any]:
    r = api.get("/v1/me/addresses", as_=user)
    assert r.status_code == 200, r.json
    return dict(r.json)


def defaults(api: Api, user: str) -> list[str]:
    return [a["address_id"] for a in book(api, user)["items"] if a["is_default"]]


def test_first_address_is_default_then_moves(api: Api) -> None:
    home = add(api, "u-addr", HOME)
    assert home["is_default"] is True and home["name"] == "李四"
    work = add(api, "u-addr", {**WORK, "is_default": False})
    assert work["is_default"] is False
    assert defaults(api, "u-addr") == [home["address_id"]]
    moved = api.put(f"/v1/me/addresses/{work['address_id']}", {**WORK, "is_default": True}, as_="u-addr")
    assert moved.status_code == 200 and moved.json["is_default"] is True, moved.json
    listed = book(api, "u-addr")
    assert listed["default_address_id"] == work["address_id"]
    assert defaults(api, "u-addr") == [work["address_id"]]
    third = add(api, "u-addr", {**HOME, "line1": "新地址", "is_default": True})
    assert defaults(api, "u-addr") == [third["address_id"]]


def test_the_default_cannot_be_undefaulted_by_itself(api: Api) -> None:
    home = add(api, "u-addr", HOME)
    r = api.put(f"/v1/me/addresses/{home['address_id']}", {**HOME, "is_default": False}, as_="u-addr")
    assert (r.status_code, r.json["code"]) == (409, "default_address_required")


def test_editing_keeps_the_default_and_changes_the_fields(api: Api) -> None:
    home = add(api, "u-addr", HOME)
    r = api.put(f"/v1/me/addresses/{home['address_id']}", {**HOME, "line1": "搬家了"}, as_="u-addr")
    assert r.status_code == 200, r.json
    assert (r.json["line1"], r.json["is_default"]) == ("搬家了", True)


def test_deleting_the_default_promotes_the_latest_other_and_the_last_leaves_none(api: Api) -> None:
    a = add(api, "u-addr", HOME)
    clock.advance(1)
    b = add(api, "u-addr", WORK)
    clock.advance(1)
    c = add(api, "u-addr", {**WORK, "line1": "第三个"})
    assert api.delete(f"/v1/me/addresses/{a['address_id']}", as_="u-addr").status_code == 204
    assert defaults(api, "u-addr") == [c["address_id"]]
    assert api.delete(f"/v1/me/addresses/{b['address_id']}", as_="u-addr").status_code == 204
    assert defaults(api, "u-addr") == [c["address_id"]]
    assert api.delete(f"/v1/me/addresses/{c['address_id']}", as_="u-addr").status_code == 204
    assert book(api, "u-addr") == {"items": [], "default_address_id": None, "next_cursor": None}
    assert int(User.get("u-addr").address_count) == 0
    again = add(api, "u-addr", HOME)
    assert again["is_default"] is True


def test_at_most_twenty_addresses_and_deleting_one_makes_room(api: Api) -> None:
    saved = [add(api, "u-addr", {**HOME, "line1": f"第 {i} 号"}) for i in range(addresses.MAX_ADDRESSES)]
    r = api.post("/v1/me/addresses", HOME, as_="u-addr")
    assert (r.status_code, r.json["code"]) == (409, "address_book_full")
    assert api.delete(f"/v1/me/addresses/{saved[3]['address_id']}", as_="u-addr").status_code == 204
    add(api, "u-addr", HOME)
    assert len(book(api, "u-addr")["items"]) == addresses.MAX_ADDRESSES


def test_concurrent_adds_cannot_pass_the_cap(api: Api) -> None:
    """Both adds read 19 saved; the count condition lets one in, the other re-reads: full."""
    for i in range(addresses.MAX_ADDRESSES - 1):
        add(api, "u-addr", {**HOME, "line1": f"第 {i} 号"})
    now = clock.now()
    with racing_transactions(2, first_only=True):
        results = run_together(*[lambda: addresses.add("u-addr", HOME, None, now)] * 2)
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1 and refused[0].code == "address_book_full", results
    assert len(book(api, "u-addr")["items"]) == addresses.MAX_ADDRESSES
    assert int(User.get("u-addr").address_count) == addresses.MAX_ADDRESSES


def test_concurrent_first_adds_leave_exactly_one_default(api: Api) -> None:
    now = clock.now()
    with racing_transactions(2, first_only=True):
        results = run_together(*[lambda: addresses.add("u-addr", HOME, None, now)] * 2)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(defaults(api, "u-addr")) == 1 and len(book(api, "u-addr")["items"]) == 2


def test_another_users_address_is_a_404(api: Api) -> None:
    home = add(api, "u-addr", HOME)
    path = f"/v1/me/addresses/{home['address_id']}"
    assert api.put(path, WORK, as_="u-other").json["code"] == "address_not_found"
    assert api.delete(path, as_="u-other").status_code == 404
    assert book(api, "u-other")["items"] == []
    assert defaults(api, "u-addr") == [home["address_id"]]


def test_invalid_addresses_are_refused_field_by_field(api: Api) -> None:
    r = api.post("/v1/me/addresses", {**HOME, "phone": "call me", "name": "  "}, as_="u-addr")
    assert (r.status_code, r.json["code"]) == (400, "validation_failed")
    assert {e["field"] for e in r.json["errors"]} >= {"phone", "name"}


def _checkout(api: Api, user: str, sku: str, **where: Any) -> Any:
    body = {"items": [{"sku_id": sku, "quantity": 1}], "payment_method": "alipay", **where}
    return api.post("/v1/checkout", body, as_=user, idem=new_key())


def test_checkout_with_an_address_id_keeps_a_copy_of_the_address_as_it_was(api: Api, activated_user: str) -> None:
    sku = sku_ids(create_product(api))[0]
    home = add(api, activated_user, HOME)
    r = _checkout(api, activated_user, sku, address_id=home["address_id"])
    assert r.status_code == 201, r.json
    order_id = r.json["orders"][0]["order_id"]
    api.put(f"/v1/me/addresses/{home['address_id']}", {**HOME, "line1": "搬家了"}, as_=activated_user)
    api.delete(f"/v1/me/addresses/{home['address_id']}", as_=activated_user)
    assert api.get(f"/v1/orders/{order_id}", as_=activated_user).json["address"] == HOME


def test_checkout_takes_exactly_one_of_address_and_address_id(api: Api, activated_user: str) -> None:
    sku = sku_ids(create_product(api))[0]
    home = add(api, activated_user, HOME)
    both = _checkout(api, activated_user, sku, address=ADDRESS, address_id=home["address_id"])
    neither = _checkout(api, activated_user, sku)
    for r in (both, neither):
        assert (r.status_code, r.json["code"]) == (400, "validation_failed"), r.json
    assert _checkout(api, activated_user, sku, address=ADDRESS).status_code == 201


def test_checkout_with_another_users_address_is_a_404(api: Api, activated_user: str) -> None:
    sku = sku_ids(create_product(api))[0]
    theirs = add(api, "u-someone-else", HOME)
    r = _checkout(api, activated_user, sku, address_id=theirs["address_id"])
    assert (r.status_code, r.json["code"]) == (404, "address_not_found")
    r = _checkout(api, activated_user, sku, address_id="addr_nope")
    assert (r.status_code, r.json["code"]) == (404, "address_not_found")


def test_addresses_never_reach_the_logs(
    api: Api, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    home = add(api, "u-addr", HOME)
    api.put(f"/v1/me/addresses/{home['address_id']}", {**WORK, "is_default": True}, as_="u-addr")
    book(api, "u-addr")
    out = capsys.readouterr()
    logs = out.out + out.err + "\n".join(r.getMessage() for r in caplog.records)
    logs += "\n".join(json.dumps(r.__dict__, default=str, ensure_ascii=False) for r in caplog.records)
    assert home["address_id"] in logs  # the log lines are there, and they name the address by id
    for value in (HOME["name"], HOME["phone"], HOME["line1"], WORK["line1"]):
        assert value not in logs
