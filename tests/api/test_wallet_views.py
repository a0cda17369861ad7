"""GET /v1/wallet, /v1/wallet/entries and /v1/wallet/coupons."""

from __future__ import annotations

from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.models.coupons import USED, Coupon
from tests.conftest import Api
from tests.support.wallet import earn, refund


def test_entries_are_listed_newest_first_with_a_cursor(api: Api) -> None:
    orders = []
    for amount in (1_000, 2_000, 3_000):
        orders.append(earn("u-entries", amount))
        clock.advance(60)
    page = api.get("/v1/wallet/entries?limit=2", as_="u-entries").json
    assert [e["points"] for e in page["items"]] == [30, 20]
    assert page["items"][0] == {
        "event_id": f"order:{orders[2].order_id}:points_earned",
        "kind": "points_earned",
        "book": "points",
        "amount_fen": None,
        "points": 30,
        "unit": "points",
        "posted_at": page["items"][0]["posted_at"],
        "ref": orders[2].order_id,
    }
    rest = api.get(f"/v1/wallet/entries?limit=2&cursor={page['next_cursor']}", as_="u-entries").json
    assert [e["points"] for e in rest["items"]] == [10]
    assert rest["next_cursor"] is None


def test_entries_filter_by_event_kind_or_book(api: Api) -> None:
    order = earn("u-kinds", 5_000)
    refund(order, 1_000)
    by_kind = api.get("/v1/wallet/entries?kind=points_reversed", as_="u-kinds").json["items"]
    assert [(e["kind"], e["points"]) for e in by_kind] == [("points_reversed", -10)]
    by_book = api.get("/v1/wallet/entries?kind=points", as_="u-kinds").json["items"]
    assert [e["points"] for e in by_book] == [-10, 50]
    assert api.get("/v1/wallet/entries?kind=cash", as_="u-kinds").json["items"] == []


def test_a_cursor_only_works_on_the_list_that_issued_it(api: Api) -> None:
    for _ in range(2):
        earn("u-cursor", 1_000)
    cursor = api.get("/v1/wallet/entries?limit=1", as_="u-cursor").json["next_cursor"]
    r = api.get(f"/v1/wallet/entries?limit=1&kind=points&cursor={cursor}", as_="u-cursor")
    assert r.status_code == 400 and r.json["code"] == "invalid_cursor"
    r = api.get(f"/v1/wallet/entries?limit=1&cursor={cursor}", as_="u-someone-else")
    assert r.status_code == 400


def test_a_bad_kind_is_a_400(api: Api) -> None:
    r = api.get("/v1/wallet/entries?kind=Robert%27);DROP", as_="u-bad")
    assert r.status_code == 400 and r.json["code"] == "validation_failed"


def test_activation_issues_the_welcome_coupon(api: Api, activated_user: str) -> None:
    rules = settings().rules
    items = api.get("/v1/wallet/coupons", as_=activated_user).json["items"]
    assert [(c["coupon_id"], c["status"], c["discount_fen"], c["min_spend_fen"]) for c in items] == [
        ("cpn_welcome", "available", rules.welcome_coupon_fen, rules.welcome_coupon_min_spend_fen)
    ]
    assert api.get("/v1/wallet", as_=activated_user).json["coupons_available"] == 1


def test_a_coupon_expires_by_the_clock(api: Api, activated_user: str) -> None:
    clock.advance(settings().rules.welcome_coupon_valid_seconds + 1)
    assert api.get("/v1/wallet/coupons?status=available", as_=activated_user).json["items"] == []
    expired = api.get("/v1/wallet/coupons?status=expired", as_=activated_user).json["items"]
    assert [c["status"] for c in expired] == ["expired"]
    assert api.get("/v1/wallet", as_=activated_user).json["coupons_available"] == 0


def test_used_coupons_are_listed_as_used(api: Api, activated_user: str) -> None:
    Coupon.get(activated_user, "cpn_welcome").update(actions=[Coupon.status.set(USED), Coupon.order_id.set("ord_1")])
    used = api.get("/v1/wallet/coupons?status=used", as_=activated_user).json["items"]
    assert [(c["status"], c["order_id"]) for c in used] == [("used", "ord_1")]
    assert api.get("/v1/wallet/coupons?status=available", as_=activated_user).json["items"] == []
    assert api.get("/v1/wallet/coupons?status=lost", as_=activated_user).status_code == 400


def test_the_openapi_document_covers_the_wallet_and_review_routes(api: Api) -> None:
    doc = api.get("/v1/openapi.json").json
    for path, method in [
        ("/v1/wallet/entries", "get"),
        ("/v1/wallet/coupons", "get"),
        ("/v1/wallet/redemptions", "post"),
        ("/v1/wallet/redemptions", "get"),
        ("/v1/wallet/redemptions/{redemption_id}", "get"),
        ("/v1/review/redemptions", "get"),
        ("/v1/review/redemptions/{redemption_id}/decision", "post"),
    ]:
        assert method in doc["paths"][path], (path, method)
    kind = next(p for p in doc["paths"]["/v1/wallet/entries"]["get"]["parameters"] if p["name"] == "kind")
    assert "points_earned" in kind["schema"]["description"]
