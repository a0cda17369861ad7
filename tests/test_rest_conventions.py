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
