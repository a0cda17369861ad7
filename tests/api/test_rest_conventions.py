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
    from tests.support.shopping import checkout, confirm, create_product, sku_ids
    from tests.support.wallet import earn, refund

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


def test_the_demo_speaks_of_the_merchants_payable_not_one_orders() -> None:
    from pathlib import Path

    demo = Path(__file__).resolve().parents[2].joinpath("scripts", "demo.py").read_text()
    assert "the merchant's payable is now" in demo
    assert "merchant is owed" not in demo  # the payable holds every order's share, not this order's


def test_json_answers_of_every_kind_end_with_a_newline(api: Api, activated_user: str) -> None:
    from tests.conftest import new_key

    key = new_key()
    first, replayed = (
        api.post("/v1/wallet/redemptions", {"amount_fen": 100}, as_=activated_user, idem=key) for _ in range(2)
    )
    answers = [
        first,
        replayed,  # an Idempotency-Key replay sends the stored body
        api.get("/v1/wallet/entries", as_=activated_user),
        api.get("/console/config.json"),
        api.post("/v1/dev/tokens", {"sub": "x", "roles": ["consumer"]}),
        api.post("/v1/channels/card/notify", {"a": 1}),  # the channel's own JSON
        api.client.http.post("/v1/me/identity", headers={"Content-Type": "application/json"}, body=b"{bad"),
    ]
    for r in answers:
        assert "json" in r.headers["Content-Type"] and r.body.endswith(b"}\n"), (r.status_code, r.body[-40:])
