"""The local stage hands out sandbox people whose ID and card numbers pass the real checks
(no one has to compute a GB 11643 or Luhn digit by hand to try the API)."""

from __future__ import annotations

from tests.conftest import Api


def test_sandbox_numbers_are_fresh_and_pass_identity_and_card_checks(api: Api) -> None:
    first, second = (api.get("/v1/dev/sandbox").json for _ in range(2))
    assert first["id_number"] != second["id_number"] and first["card_number"] != second["card_number"]
    user = "u-sandbox-1"
    identity = {"real_name": first["real_name"], "id_number": first["id_number"]}
    assert api.post("/v1/me/identity", identity, as_=user).status_code == 200
    card = api.post("/v1/me/bank-cards", {"card_number": first["card_number"]}, as_=user)
    assert card.status_code == 201 and card.json["last4"] == first["card_number"][-4:]
