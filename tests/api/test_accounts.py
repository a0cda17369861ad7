"""Activation story (开通): identity, cards, payment password, devices, eligibility."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import boto3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.services import validators
from tests.conftest import ADULT_ID, ADULT_ID_2, Api

CARD = "6222020200112233446"
CARD_2 = "6217001234567890122"  # Luhn-valid
PIN = "135790"


def _with_check_digit(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


# --- the ID number rule, against a hand-computed check digit ------------------------------


def test_known_id_numbers_check() -> None:
    assert validators.id_check_char("11010519491231002") == "X"
    assert validators.id_check_char("44052418800101001") == "4"


@given(
    region=st.sampled_from(["110105", "440524", "310104", "510107"]),
    born=st.dates(min_value=date(1930, 1, 1), max_value=date(2007, 1, 1)),
    seq=st.integers(min_value=0, max_value=999),
    wrong=st.sampled_from("0123456789X"),
)
def test_id_check_digit_property(region: str, born: date, seq: int, wrong: str) -> None:
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    good = _with_check_digit(first17)
    number, parsed = validators.parse_id_number(good, date(2026, 11, 25))
    assert number == good and parsed == born
    if wrong != good[-1]:
        try:
            validators.parse_id_number(first17 + wrong, date(2026, 11, 25))
            raise AssertionError("a wrong check digit was accepted")
        except validators.InvalidValue as exc:
            assert "check digit" in str(exc)


@given(st.text(alphabet="0123456789", min_size=12, max_size=19))
def test_luhn_accepts_exactly_numbers_whose_digit_sum_is_zero_mod_10(digits: str) -> None:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    assert validators.luhn_ok(digits) == (total % 10 == 0)


def test_weak_passwords() -> None:
    for pin in ("123456", "654321", "111111", "012345", "987654"):
        assert validators.weak_password(pin)
    for pin in ("135790", "240681", "112233"):
        assert not validators.weak_password(pin)


# --- identity --------------------------------------------------------------------------------


def test_identity_is_stored_masked_hashed_and_encrypted(api: Api) -> None:
    r = api.post("/v1/me/identity", {"real_name": "张三丰", "id_number": ADULT_ID}, as_="u1")
    assert r.status_code == 200, r.json
    assert r.json["identity"] == {
        "verified": True,
        "real_name_masked": "**丰",
        "id_number_masked": "1****************X",
        "verified_at": r.json["identity"]["verified_at"],
    }
    raw = boto3.client("dynamodb", region_name=settings().region).get_item(
        TableName=settings().table("users"), Key={"user_id": {"S": "u1"}}
    )["Item"]
    dumped = repr(raw)
    assert ADULT_ID not in dumped and "张三丰" not in dumped


def test_bad_check_digit_is_rejected_with_its_field(api: Api) -> None:
    r = api.post("/v1/me/identity", {"real_name": "张三", "id_number": "110105194912310021"}, as_="u1")
    assert r.status_code == 422 and r.json["code"] == "invalid_id_number"
    assert r.json["errors"][0]["field"] == "id_number"
    assert "110105194912310021" not in r.body.decode()


def test_impossible_birth_date_is_rejected(api: Api) -> None:
    r = api.post(
        "/v1/me/identity", {"real_name": "张三", "id_number": _with_check_digit("11010519490231002")}, as_="u1"
    )
    assert r.status_code == 422 and "birth date" in r.json["detail"]


def test_minors_cannot_verify(api: Api) -> None:
    born = clock.now().date() - timedelta(days=17 * 365)
    r = api.post(
        "/v1/me/identity", {"real_name": "李四", "id_number": _with_check_digit(f"110105{born:%Y%m%d}001")}, as_="kid"
    )
    assert r.status_code == 422 and r.json["code"] == "underage"


def test_one_id_number_per_account(api: Api) -> None:
    assert api.post("/v1/me/identity", {"real_name": "张三", "id_number": ADULT_ID}, as_="a").status_code == 200
    r = api.post("/v1/me/identity", {"real_name": "张三", "id_number": ADULT_ID}, as_="b")
    assert r.status_code == 409 and r.json["code"] == "id_number_in_use"
    r = api.post("/v1/me/identity", {"real_name": "王五", "id_number": ADULT_ID_2}, as_="a")
    assert r.status_code == 409 and r.json["code"] == "identity_already_verified"


# --- cards -------------------------------------------------------------------------------------


def test_card_is_tokenized_and_first_card_is_default(api: Api) -> None:
    r = api.post("/v1/me/bank-cards", {"card_number": CARD}, as_="u1")
    assert r.status_code == 201
    assert r.json["last4"] == "3446" and r.json["bank"] == "工商银行" and r.json["is_default"] is True
    second = api.post("/v1/me/bank-cards", {"card_number": CARD_2}, as_="u1").json
    assert second["is_default"] is False
    assert CARD not in r.body.decode()
    raw = boto3.client("dynamodb", region_name=settings().region).query(
        TableName=settings().table("cards"),
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": "u1"}},
    )["Items"]
    assert CARD not in repr(raw) and CARD_2 not in repr(raw)


def test_card_failing_luhn_is_422(api: Api) -> None:
    r = api.post("/v1/me/bank-cards", {"card_number": "6222020200112233445"}, as_="u1")
    assert r.status_code == 422 and r.json["code"] == "invalid_card_number"


def test_same_card_twice_is_409(api: Api) -> None:
    api.post("/v1/me/bank-cards", {"card_number": CARD}, as_="u1")
    r = api.post("/v1/me/bank-cards", {"card_number": CARD}, as_="u1")
    assert r.status_code == 409 and r.json["code"] == "card_already_bound"


def test_removing_the_default_card_promotes_another(api: Api) -> None:
    first = api.post("/v1/me/bank-cards", {"card_number": CARD}, as_="u1").json
    second = api.post("/v1/me/bank-cards", {"card_number": CARD_2}, as_="u1").json
    assert api.delete(f"/v1/me/bank-cards/{first['card_id']}", as_="u1").status_code == 204
    cards = api.get("/v1/me/bank-cards", as_="u1").json["items"]
    assert [c["card_id"] for c in cards] == [second["card_id"]] and cards[0]["is_default"]
    assert api.get("/v1/me", as_="u1").json["default_card_id"] == second["card_id"]


def test_the_only_card_of_a_user_with_unpaid_bnpl_orders_cannot_be_removed(api: Api, activated_user: str) -> None:
    from chalicelib.models.users import User

    User(activated_user).update(actions=[User.unpaid_bnpl_count.set(1)])
    card = api.get("/v1/me/bank-cards", as_=activated_user).json["items"][0]
    r = api.delete(f"/v1/me/bank-cards/{card['card_id']}", as_=activated_user)
    assert r.status_code == 409 and r.json["code"] == "card_in_use"


def test_removing_both_cards_at_once_keeps_one_for_unpaid_bnpl_orders(api: Api, activated_user: str) -> None:
    from chalicelib.errors import DomainError
    from chalicelib.models.users import User
    from chalicelib.services import accounts
    from tests.support.shopping import racing_transactions, run_together

    other = api.post("/v1/me/bank-cards", {"card_number": CARD_2}, as_=activated_user).json
    User(activated_user).update(actions=[User.unpaid_bnpl_count.set(1)])
    cards = [c["card_id"] for c in api.get("/v1/me/bank-cards", as_=activated_user).json["items"]]
    assert other["card_id"] in cards and len(cards) == 2

    def remove(card_id: str) -> Any:
        return lambda: accounts.remove_card(activated_user, card_id, clock.now())

    with racing_transactions(2, first_only=True):
        results = run_together(*(remove(c) for c in cards))
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1 and refused[0].code == "card_in_use", results
    left = api.get("/v1/me/bank-cards", as_=activated_user).json["items"]
    assert len(left) == 1 and left[0]["is_default"]
    assert api.get("/v1/me", as_=activated_user).json["default_card_id"] == left[0]["card_id"]


# --- payment password -------------------------------------------------------------------------


def test_weak_password_is_refused(api: Api) -> None:
    r = api.put("/v1/me/payment-password", {"password": "123456"}, as_="u1")
    assert r.status_code == 422 and r.json["code"] == "weak_password"


def test_password_must_be_six_digits(api: Api) -> None:
    for bad in ("12345", "1234567", "abcdef", 135790):
        assert api.put("/v1/me/payment-password", {"password": bad}, as_="u1").status_code == 400


def test_changing_the_password_needs_the_old_one(api: Api) -> None:
    assert api.put("/v1/me/payment-password", {"password": "135790"}, as_="u1").status_code == 200
    r = api.put("/v1/me/payment-password", {"password": "246802"}, as_="u1")
    assert r.json["code"] == "old_password_required"
    r = api.put("/v1/me/payment-password", {"password": "246802", "old_password": "000001"}, as_="u1")
    assert r.json["code"] == "payment_password_incorrect"
    r = api.put("/v1/me/payment-password", {"password": "246802", "old_password": "135790"}, as_="u1")
    assert r.status_code == 200


def test_five_wrong_tries_lock_the_password_for_three_hours(api: Api) -> None:
    api.put("/v1/me/payment-password", {"password": "135790"}, as_="u1")
    codes = [
        api.put("/v1/me/payment-password", {"password": "246802", "old_password": "000001"}, as_="u1").json["code"]
        for _ in range(5)
    ]
    assert codes == ["payment_password_incorrect"] * 4 + ["payment_password_locked"]
    # Locked: even the right password is refused until the lock ends.
    r = api.put("/v1/me/payment-password", {"password": "246802", "old_password": "135790"}, as_="u1")
    assert r.status_code == 423
    assert api.get("/v1/me", as_="u1").json["payment_password_locked_until"]
    clock.advance(settings().rules.password_lock_seconds + 1)
    r = api.put("/v1/me/payment-password", {"password": "246802", "old_password": "135790"}, as_="u1")
    assert r.status_code == 200


# --- devices -------------------------------------------------------------------------------------


def _pem(key: object) -> str:
    return (
        key.public_key()
        .public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )


def test_device_key_must_be_p256(api: Api) -> None:
    api.put("/v1/me/payment-password", {"password": PIN}, as_="u1")
    good = _pem(ec.generate_private_key(ec.SECP256R1()))
    body = {"device_id": "iphone-1", "public_key_pem": good, "password": PIN}
    assert api.post("/v1/me/devices", body, as_="u1").status_code == 201
    r = api.post("/v1/me/devices", body, as_="u1")
    assert r.status_code == 409 and r.json["code"] == "device_already_registered"
    for bad in (
        _pem(ec.generate_private_key(ec.SECP384R1())),
        _pem(rsa.generate_private_key(65537, 2048)),
        "-----BEGIN PUBLIC KEY-----\nnot a key at all, just some text here\n-----END PUBLIC KEY-----",
    ):
        r = api.post("/v1/me/devices", {"device_id": "other-1", "public_key_pem": bad, "password": PIN}, as_="u1")
        assert r.status_code == 422 and r.json["code"] == "invalid_public_key"


def test_registering_a_device_is_a_step_up_that_takes_the_payment_password(api: Api) -> None:
    """A stolen session token alone cannot add a key that confirms orders without the password."""
    api.put("/v1/me/payment-password", {"password": PIN}, as_="u1")
    key = _pem(ec.generate_private_key(ec.SECP256R1()))
    r = api.post("/v1/me/devices", {"device_id": "thief-1", "public_key_pem": key}, as_="u1")
    assert r.status_code == 400 and {e["field"] for e in r.json["errors"]} == {"password"}
    wrong = {"device_id": "thief-1", "public_key_pem": key, "password": "000001"}
    codes = [api.post("/v1/me/devices", wrong, as_="u1").json["code"] for _ in range(5)]
    # The confirmation's lockout: 5 wrong tries lock it, the right one is then refused too.
    assert codes == ["payment_password_incorrect"] * 4 + ["payment_password_locked"]
    r = api.post("/v1/me/devices", {**wrong, "password": PIN}, as_="u1")
    assert r.status_code == 423 and r.json["code"] == "payment_password_locked"
    clock.advance(settings().rules.password_lock_seconds + 1)
    assert api.post("/v1/me/devices", {**wrong, "password": PIN}, as_="u1").status_code == 201


def test_a_device_needs_a_payment_password_to_exist(api: Api) -> None:
    key = _pem(ec.generate_private_key(ec.SECP256R1()))
    r = api.post("/v1/me/devices", {"device_id": "iphone-1", "public_key_pem": key, "password": PIN}, as_="u1")
    assert r.status_code == 422 and r.json["code"] == "payment_password_not_set"


# --- activation ----------------------------------------------------------------------------------


def test_activation_names_every_unmet_condition(api: Api) -> None:
    r = api.post("/v1/bnpl/activation", {"agreement_version": "1999-01-01"}, as_="newbie")
    assert r.status_code == 422 and r.json["code"] == "not_eligible"
    assert {e["field"] for e in r.json["errors"]} == {"identity", "bank_card", "agreement_version"}


def test_activation_grants_the_starting_limit_once(api: Api, activated_user: str) -> None:
    wallet = api.get("/v1/wallet", as_=activated_user).json
    assert wallet["credit"]["limit_fen"] == settings().rules.credit_start_fen
    assert wallet["bnpl_status"] == "active"
    r = api.post("/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}, as_=activated_user)
    assert r.status_code == 409 and r.json["code"] == "already_activated"


def test_agreement_is_readable(api: Api) -> None:
    doc = api.get("/v1/bnpl/agreement", as_="u1").json
    assert doc["version"] == settings().rules.agreement_version and "先用后付" in doc["text"]


def test_me_is_created_on_first_sight(api: Api) -> None:
    me = api.get("/v1/me", as_="fresh").json
    assert me["user_id"] == "fresh" and me["bnpl"]["status"] == "inactive" and not me["identity"]["verified"]
