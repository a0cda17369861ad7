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


def test_a_sandbox_card_ends_as_asked_and_succeeds_unless_asked_otherwise(api: Api) -> None:
    from chalicelib.api.dev import CARD_ENDINGS, sandbox_card_number
    from chalicelib.services.validators import luhn_ok

    failing = set(CARD_ENDINGS.values())
    assert not any(sandbox_card_number()[-4:] in failing for _ in range(3000))
    for outcome, ending in CARD_ENDINGS.items():
        number = api.get(f"/v1/dev/sandbox?card={outcome}").json["card_number"]
        assert number.endswith(ending) and len(number) == 19 and luhn_ok(number), (outcome, number)
    assert api.get("/v1/dev/sandbox?card=explodes").status_code == 400


def test_a_declining_sandbox_card_declines_at_the_gateway(api: Api) -> None:
    from datetime import UTC, datetime

    from chalicelib.channels.base import FAILED, PaymentRef
    from chalicelib.channels.card import SandboxGateway
    from chalicelib.models.users import BankCard

    user = "u-sandbox-declined"
    person = api.get("/v1/dev/sandbox?card=declines").json
    card = api.post("/v1/me/bank-cards", {"card_number": person["card_number"]}, as_=user)
    assert card.status_code == 201 and card.json["last4"] == "0002"
    token = BankCard.get(user, card.json["card_id"]).gateway_token
    ref = PaymentRef("att-1", "o-1", user, 100, "CNY", datetime.now(UTC), instrument_token=token)
    assert SandboxGateway().charge(ref).status == FAILED
