"""Fulfilment and after-sale (guide 第三步/第四步): ship, receive, return, review, settle."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import ledger, schedules
from chalicelib.clock import clock, parse_iso
from chalicelib.config import settings
from chalicelib.models.ledger import Entry
from chalicelib.models.timers import Timer
from tests.conftest import Api, new_key
from tests.support.fulfilment import ADDRESS, MERCHANT, credit_used, payable, place, ship
from tests.support.fulfilment import product as product  # noqa: F401  (the fixture)
from tests.support.shopping import racing_transactions, run_together


@pytest.fixture
def placed(api: Api, activated_user: str, product: dict[str, Any]) -> str:
    return place(api, activated_user, product, qty=(2, 1))


# --- shipment -------------------------------------------------------------------------------


def test_merchant_ships_a_placed_bnpl_order(api: Api, activated_user: str, placed: str) -> None:
    # What to ship and where: items by name and attributes, the delivery address.
    before = api.get(f"/v1/merchant/orders/{placed}", as_=MERCHANT, roles=["merchant"])
    assert before.status_code == 200, before.json
    lines = [(i["name"], i["attributes"], i["quantity"]) for i in before.json["items"]]
    assert lines == [("手机壳", {"colour": "black"}, 2), ("手机壳", {"colour": "pink"}, 1)], before.json
    assert before.json["address"] == ADDRESS and before.json["shipment"] is None
    r = ship(api, placed)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "shipped"
    assert [h["status"] for h in r.json["history"]][-2:] == ["placed", "shipped"]
    listed = api.get("/v1/merchant/orders?status=shipped", as_=MERCHANT, roles=["merchant"]).json
    assert [o["order_id"] for o in listed["items"]] == [placed]
    for seen in (api.get(f"/v1/merchant/orders/{placed}", as_=MERCHANT, roles=["merchant"]), r):
        shipment = seen.json["shipment"]
        assert (shipment["carrier"], shipment["tracking_number"]) == ("SF", "SF1234567890") and shipment["shipped_at"]
    mine = api.get(f"/v1/orders/{placed}", as_=activated_user).json
    assert mine["shipment"] == r.json["shipment"] and mine["received_at"] is None


def test_a_tracking_number_needs_letters_or_digits_at_both_ends(api: Api, placed: str) -> None:
    for bad in ("----", "-SF123", "SF123-", "SF 1234"):
        r = api.post(
            f"/v1/merchant/orders/{placed}/shipment",
            {"carrier": "SF", "tracking_number": bad},
            as_=MERCHANT,
            roles=["merchant"],
        )
        assert r.status_code == 400 and r.json["errors"][0]["field"] == "tracking_number", (bad, r.json)
        assert r.json["errors"][0]["message"].startswith("4-40 letters, digits or hyphens"), r.json


def test_an_order_cannot_ship_twice_or_before_it_is_placed(api: Api, activated_user: str, product: dict) -> None:
    r = api.post(
        "/v1/checkout",
        {
            "items": [{"sku_id": product["skus"][0]["sku_id"], "quantity": 1}],
            "payment_method": "bnpl",
            "address": ADDRESS,
        },
        as_=activated_user,
        idem=new_key(),
    )
    unconfirmed = r.json["orders"][0]["order_id"]
    assert ship(api, unconfirmed).json["code"] == "illegal_transition"
    # Until the buyer confirms, the checkout (and its address) is not the merchant's to read.
    seen = api.get(f"/v1/merchant/orders/{unconfirmed}", as_=MERCHANT, roles=["merchant"])
    assert seen.status_code == 404 and seen.json["code"] == "order_not_found"
    listed = api.get("/v1/merchant/orders", as_=MERCHANT, roles=["merchant"]).json["items"]
    assert unconfirmed not in [o["order_id"] for o in listed]
    order_id = place(api, activated_user, product)
    assert ship(api, order_id).status_code == 200
    r = ship(api, order_id)
    assert r.status_code == 409 and r.json["code"] == "illegal_transition"


def test_an_unpaid_channel_order_does_not_ship(api: Api, activated_user: str, product: dict) -> None:
    order_id = place(api, activated_user, product, method="alipay")
    assert ship(api, order_id).json["code"] == "illegal_transition"


def test_another_merchant_cannot_see_or_ship_the_order(api: Api, placed: str) -> None:
    r = api.post(
        f"/v1/merchant/orders/{placed}/shipment",
        {"carrier": "SF", "tracking_number": "SF1234567890"},
        as_="m-other",
        roles=["merchant"],
    )
    assert r.status_code == 404
    assert api.get("/v1/merchant/orders", as_="m-other", roles=["merchant"]).json["items"] == []
    seen = api.get(f"/v1/merchant/orders/{placed}", as_="m-other", roles=["merchant"])
    assert seen.status_code == 404 and seen.json["code"] == "order_not_found"


def test_consumers_cannot_ship(api: Api, activated_user: str, placed: str) -> None:
    r = api.post(
        f"/v1/merchant/orders/{placed}/shipment",
        {"carrier": "SF", "tracking_number": "SF1234567890"},
        as_=activated_user,
    )
    assert r.status_code == 403


# --- receipt, window and settlement -----------------------------------------------------------------


def test_receipt_opens_a_seven_day_window_and_settles_the_merchant(api: Api, activated_user: str, placed: str) -> None:
    ship(api, placed)
    clock.advance(3600)
    r = api.post(f"/v1/orders/{placed}/receipt", as_=activated_user)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "received" and parse_iso(r.json["received_at"]) == clock.now()
    due = parse_iso(r.json["due_at"])
    assert due - clock.now() == timedelta(seconds=settings().rules.payment_window_seconds)
    subtotal = 2 * 3990 + 2990
    fee = subtotal * settings().rules.platform_fee_bps // 10_000
    assert payable() == subtotal - fee
    s = api.get("/v1/merchant/settlements", as_=MERCHANT, roles=["merchant"]).json
    assert s["payable_fen"] == subtotal - fee and s["items"][0]["order_id"] == placed
    kinds = {t.kind for shard in range(settings().rules.timer_shards) for t in Timer.query(f"payment_due#{shard:02d}")}
    assert kinds == {"payment_due"}


def test_receipt_twice_is_409(api: Api, activated_user: str, placed: str) -> None:
    ship(api, placed)
    api.post(f"/v1/orders/{placed}/receipt", as_=activated_user)
    assert api.post(f"/v1/orders/{placed}/receipt", as_=activated_user).json["code"] == "illegal_transition"
    assert payable() > 0 and len([e for e in Entry.query(ledger.merchant_account(MERCHANT))]) == 1


def test_receipt_before_shipment_is_409_and_another_user_gets_404(api: Api, activated_user: str, placed: str) -> None:
    assert api.post(f"/v1/orders/{placed}/receipt", as_=activated_user).json["code"] == "illegal_transition"
    assert api.post(f"/v1/orders/{placed}/receipt", as_="intruder").status_code == 404


def test_receipt_is_confirmed_automatically_ten_days_after_shipment(api: Api, activated_user: str, placed: str) -> None:
    ship(api, placed)
    clock.advance(settings().rules.auto_confirm_receipt_seconds - 60)
    assert schedules.run("auto_confirm_receipts", clock.now())["processed"] == 0
    clock.advance(120)
    assert schedules.run("auto_confirm_receipts", clock.now())["processed"] == 1
    order = api.get(f"/v1/orders/{placed}", as_=activated_user).json
    assert order["status"] == "received" and order["history"][-1]["actor"] == "system"
    assert schedules.run("auto_confirm_receipts", clock.now())["processed"] == 0


def test_overlapping_auto_confirm_runs_settle_once(api: Api, activated_user: str, placed: str) -> None:
    ship(api, placed)
    clock.advance(settings().rules.auto_confirm_receipt_seconds + 1)
    with racing_transactions(3):
        results = run_together(*[lambda: schedules.run("auto_confirm_receipts", clock.now())] * 3)
    assert sum(r["processed"] for r in results) == 1
    assert len(list(Entry.query(ledger.merchant_account(MERCHANT)))) == 1


def test_manual_receipt_clears_the_auto_confirm_timer(api: Api, activated_user: str, placed: str) -> None:
    ship(api, placed)
    api.post(f"/v1/orders/{placed}/receipt", as_=activated_user)
    clock.advance(settings().rules.auto_confirm_receipt_seconds + 1)
    assert schedules.run("auto_confirm_receipts", clock.now()) == {
        "processed": 0,
        "skipped": 0,
        "failed": 0,
        "complete": 1,
    }


# --- returns --------------------------------------------------------------------------------------


def test_full_return_of_an_unpaid_bnpl_order_releases_credit_and_reverses_settlement(
    api: Api, activated_user: str, placed: str
) -> None:
    ship(api, placed)
    api.post(f"/v1/orders/{placed}/receipt", as_=activated_user)
    assert credit_used(activated_user) == 2 * 3990 + 2990
    r = api.post(f"/v1/orders/{placed}/return-requests", {"reason": "不合适"}, as_=activated_user)
    assert r.status_code == 201, r.json
    assert api.get(f"/v1/orders/{placed}", as_=activated_user).json["status"] == "return_requested"
    listed = api.get("/v1/merchant/return-requests?status=pending", as_=MERCHANT, roles=["merchant"]).json
    assert [x["request_id"] for x in listed["items"]] == [r.json["request_id"]]
    d = api.post(
        f"/v1/merchant/return-requests/{r.json['request_id']}/decision",
        {"decision": "approve", "note": "ok"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert d.status_code == 200 and d.json["status"] == "approved"
    assert api.get(f"/v1/orders/{placed}", as_=activated_user).json["status"] == "returned"
    assert credit_used(activated_user) == 0
    assert payable() == 0
    again = api.post(
        f"/v1/merchant/return-requests/{r.json['request_id']}/decision",
        {"decision": "reject", "note": "no"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert again.status_code == 409


def test_partial_return_reduces_the_amount_due(api: Api, activated_user: str, placed: str, product: dict) -> None:
    ship(api, placed)
    api.post(f"/v1/orders/{placed}/receipt", as_=activated_user)
    pink = product["skus"][1]["sku_id"]
    r = api.post(
        f"/v1/orders/{placed}/return-requests",
        {"reason": "颜色不对", "items": [{"sku_id": pink, "quantity": 1}]},
        as_=activated_user,
    )
    assert r.json["amount_fen"] == 2990
    api.post(
        f"/v1/merchant/return-requests/{r.json['request_id']}/decision",
        {"decision": "approve", "note": ""},
        as_=MERCHANT,
        roles=["merchant"],
    )
    order = api.get(f"/v1/orders/{placed}", as_=activated_user).json
    assert order["status"] == "received"
    assert credit_used(activated_user) == 2 * 3990


def test_rejected_return_restores_the_order(api: Api, activated_user: str, placed: str) -> None:
    ship(api, placed)
    r = api.post(f"/v1/orders/{placed}/return-requests", {"reason": "不想要了"}, as_=activated_user)
    d = api.post(
        f"/v1/merchant/return-requests/{r.json['request_id']}/decision",
        {"decision": "reject", "note": "已拆封"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert d.json["status"] == "rejected"
    assert api.get(f"/v1/orders/{placed}", as_=activated_user).json["status"] == "shipped"


def test_one_pending_return_at_a_time_and_only_own_goods(api: Api, activated_user: str, placed: str) -> None:
    ship(api, placed)
    bad = api.post(
        f"/v1/orders/{placed}/return-requests",
        {"reason": "x", "items": [{"sku_id": "sku_nope", "quantity": 1}]},
        as_=activated_user,
    )
    assert bad.status_code == 422 and bad.json["code"] == "invalid_return_items"
    assert api.post(f"/v1/orders/{placed}/return-requests", {"reason": "x"}, as_=activated_user).status_code == 201
    assert api.post(f"/v1/orders/{placed}/return-requests", {"reason": "x"}, as_=activated_user).status_code == 409
    assert api.post(f"/v1/orders/{placed}/return-requests", {"reason": "x"}, as_="intruder").status_code == 404


def test_no_return_before_shipment(api: Api, activated_user: str, placed: str) -> None:
    r = api.post(f"/v1/orders/{placed}/return-requests", {"reason": "x"}, as_=activated_user)
    assert r.status_code == 409 and r.json["code"] == "illegal_transition"


def test_another_merchant_cannot_decide(api: Api, activated_user: str, placed: str) -> None:
    ship(api, placed)
    r = api.post(f"/v1/orders/{placed}/return-requests", {"reason": "x"}, as_=activated_user)
    d = api.post(
        f"/v1/merchant/return-requests/{r.json['request_id']}/decision",
        {"decision": "approve", "note": ""},
        as_="m-other",
        roles=["merchant"],
    )
    assert d.status_code == 404


# --- reviews ----------------------------------------------------------------------------------------


def test_review_after_receipt_once_per_item_and_shown_on_the_product(
    api: Api, activated_user: str, placed: str, product: dict
) -> None:
    ship(api, placed)
    early = api.post(f"/v1/orders/{placed}/review", {"rating": 5, "text": "好"}, as_=activated_user)
    assert early.status_code == 409 and early.json["code"] == "not_received"
    api.post(f"/v1/orders/{placed}/receipt", as_=activated_user)
    black = product["skus"][0]["sku_id"]
    r = api.post(
        f"/v1/orders/{placed}/review",
        {"rating": 4, "text": "<script>alert(1)</script> 不错", "sku_id": black},
        as_=activated_user,
    )
    assert r.status_code == 201, r.json
    assert r.json["items"][0]["text"] == "<script>alert(1)</script> 不错"  # as sent: clients render text
    again = api.post(f"/v1/orders/{placed}/review", {"rating": 1, "text": "x", "sku_id": black}, as_=activated_user)
    assert again.status_code == 409 and again.json["code"] == "already_reviewed"
    assert api.post(f"/v1/orders/{placed}/review", {"rating": 2, "text": "一般"}, as_="intruder").status_code == 404
    page = api.get(f"/v1/products/{product['product_id']}", as_=activated_user).json
    assert page["reviews"]["count"] == 1 and page["reviews"]["average"] == 4
    listed = api.get(f"/v1/products/{product['product_id']}/reviews").json
    assert len(listed["items"]) == 1


def test_public_reviews_do_not_show_the_buyer_or_their_order(
    api: Api, activated_user: str, placed: str, product: dict
) -> None:
    ship(api, placed)
    api.post(f"/v1/orders/{placed}/receipt", as_=activated_user)
    assert api.post(f"/v1/orders/{placed}/review", {"rating": 5, "text": "好"}, as_=activated_user).status_code == 201
    r = api.get(f"/v1/products/{product['product_id']}/reviews?limit=1")
    assert r.status_code == 200 and r.json["items"][0]["rating"] == 5
    assert set(r.json["items"][0]) == {"product_id", "sku_id", "rating", "text", "created_at"}
    assert placed not in r.body.decode() and activated_user not in r.body.decode()
    # The cursor carries the last review's key (order id # sku id): sealed, not just signed.
    cursor = r.json["next_cursor"]
    assert cursor
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert placed.encode() not in raw and placed[2:].encode() not in raw
    assert api.get(f"/v1/products/{product['product_id']}/reviews?limit=1&cursor={cursor}").status_code == 200


@pytest.mark.parametrize("rating", [0, 6, 4.5, "5"])
def test_ratings_are_whole_numbers_from_one_to_five(api: Api, activated_user: str, placed: str, rating: Any) -> None:
    r = api.post(f"/v1/orders/{placed}/review", {"rating": rating, "text": "x"}, as_=activated_user)
    assert r.status_code == 400


def test_every_step_is_in_the_history_with_time_and_actor(api: Api, activated_user: str, placed: str) -> None:
    ship(api, placed)
    clock.advance(60)
    api.post(f"/v1/orders/{placed}/receipt", as_=activated_user)
    history = api.get(f"/v1/orders/{placed}", as_=activated_user).json["history"]
    assert [h["status"] for h in history] == ["awaiting_confirmation", "placed", "shipped", "received"]
    assert history[2]["actor"] == f"merchant:{MERCHANT}" and history[3]["actor"] == f"user:{activated_user}"
    assert all(h["at"].endswith("Z") for h in history)
