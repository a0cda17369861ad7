"""Issue #24's remaining conventions: a create answers what it created, typed wallet entries,
paged data-export sections."""

from __future__ import annotations

from chalicelib.config import settings
from tests.conftest import Api


def test_activation_answers_the_bnpl_account_it_opened(api: Api, verified_user: str) -> None:
    uid = verified_user
    assert api.post("/v1/me/bank-cards", {"card_number": "6222020200112233446"}, as_=uid).status_code == 201
    r = api.post("/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}, as_=uid)
    assert r.status_code == 201, r.json
    start = settings().rules.credit_start_fen
    assert r.json["status"] == "active"
    assert r.json["agreement_version"] == settings().rules.agreement_version
    assert r.json["activated_at"]
    assert r.json["currency"] == settings().rules.currency
    assert r.json["credit"] == {"limit_fen": start, "used_fen": 0, "available_fen": start}
    assert "user_id" not in r.json and "identity" not in r.json  # not MeView
    wallet = api.get("/v1/wallet", as_=uid).json
    assert wallet["credit"] == r.json["credit"]


def test_activation_documents_the_account_view(api: Api) -> None:
    doc = api.get("/v1/openapi.json").json
    created = doc["paths"]["/v1/bnpl/activation"]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"] == {"$ref": "#/components/schemas/BnplAccountView"}


def test_wallet_books_are_one_named_enum_of_the_user_books(api: Api) -> None:
    from chalicelib import ledger
    from chalicelib.schemas.kinds import WalletBook, values

    assert set(values(WalletBook)) == ledger.STORED_BOOKS - {ledger.PAYABLE}
    doc = api.get("/v1/openapi.json").json
    entry = doc["components"]["schemas"]["EntryView"]["properties"]
    assert entry["book"]["$ref"] == "#/components/schemas/WalletBook"
    assert "amount" not in entry and {"amount_fen", "points"} <= set(entry)


def test_a_money_entry_carries_amount_fen_and_a_points_entry_points(api: Api, activated_user: str) -> None:
    from tests.shopping import checkout, confirm, create_product, sku_ids
    from tests.wallet_support import earn, refund

    uid = activated_user
    order = checkout(api, uid, [(sku_ids(create_product(api))[0], 1)]).json["orders"][0]
    assert confirm(api, uid, order).status_code == 200
    refund(earn(uid, 5_000), 1_000)
    items = api.get("/v1/wallet/entries", as_=uid).json["items"]
    assert {e["unit"] for e in items} == {"fen", "points"}, items
    for e in items:
        if e["book"].startswith("points"):
            assert e["unit"] == "points" and isinstance(e["points"], int) and e["amount_fen"] is None, e
        else:
            assert e["unit"] == "fen" and isinstance(e["amount_fen"], int) and e["points"] is None, e
    reserved = api.get("/v1/wallet/entries?kind=credit_reserved", as_=uid).json["items"]
    assert [e["amount_fen"] for e in reserved] == [2990]
