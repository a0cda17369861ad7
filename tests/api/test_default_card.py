"""`PUT /v1/me/bank-cards/{card_id}/default`: the card the 先用后付 window's close charges."""

from __future__ import annotations

from tests.conftest import Api
from tests.support import channel_sim as sim
from tests.support.collection import attempts, close_windows, order, received_order, to_the_close, user


def bind(api: Api, user_id: str, last4: str) -> str:
    r = api.post("/v1/me/bank-cards", {"card_number": sim.luhn_card("621226", last4)}, as_=user_id)
    assert r.status_code == 201, r.json
    return str(r.json["card_id"])


def cards(api: Api, user_id: str) -> dict[str, bool]:
    return {c["last4"]: c["is_default"] for c in api.get("/v1/me/bank-cards", as_=user_id).json["items"]}


def test_switching_the_default_card_moves_the_flag_and_the_pointer(api: Api, activated_user: str) -> None:
    first = api.get("/v1/me", as_=activated_user).json["default_card_id"]
    second = bind(api, activated_user, "1881")
    r = api.put(f"/v1/me/bank-cards/{second}/default", as_=activated_user)
    assert r.status_code == 200, r.json
    assert (r.json["card_id"], r.json["is_default"]) == (second, True)
    assert api.get("/v1/me", as_=activated_user).json["default_card_id"] == second
    assert sorted(cards(api, activated_user).values()) == [False, True] and cards(api, activated_user)["1881"]
    # Choosing it again changes nothing; switching back moves it back.
    assert api.put(f"/v1/me/bank-cards/{second}/default", as_=activated_user).status_code == 200
    assert api.put(f"/v1/me/bank-cards/{first}/default", as_=activated_user).json["is_default"] is True
    assert user(activated_user).default_card_id == first and not cards(api, activated_user)["1881"]


def test_another_users_or_a_removed_card_is_a_404(api: Api, activated_user: str) -> None:
    theirs = bind(api, "u-card-owner", "1881")
    r = api.put(f"/v1/me/bank-cards/{theirs}/default", as_=activated_user)
    assert (r.status_code, r.json["code"]) == (404, "card_not_found")
    spare = bind(api, activated_user, "2001")
    assert api.delete(f"/v1/me/bank-cards/{spare}", as_=activated_user).status_code == 204
    r = api.put(f"/v1/me/bank-cards/{spare}/default", as_=activated_user)
    assert (r.status_code, r.json["code"]) == (404, "card_not_found")
    assert user("u-card-owner").default_card_id == theirs


def test_the_window_closes_and_the_chosen_card_is_charged(api: Api, activated_user: str) -> None:
    """Two cards; the default is switched to the second; the close charges the second."""
    second = bind(api, activated_user, "1881")
    order_id = received_order(api, activated_user)
    assert api.put(f"/v1/me/bank-cards/{second}/default", as_=activated_user).status_code == 200
    to_the_close(order_id)
    assert close_windows()["paid"] == 1
    [attempt] = attempts(order_id)
    assert (attempt.card_last4, attempt.status) == ("1881", "succeeded")
    assert order(order_id).status == "paid"
