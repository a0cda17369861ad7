"""Three DynamoDB calls for the buyer's account writes (issue 29): bank cards, notifications
read. The Idempotency-Key is claimed by the effect's own transaction and the answer is built
from what the write left, so the answer is what a read shows next, a replay answers the same,
and a lost answer on the transaction is replayed (never stuck `idempotency_in_flight`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.clock import clock
from chalicelib.db import Tx
from chalicelib.services import notifications
from tests.conftest import Api, new_key
from tests.support import channel_sim as sim
from tests.support.model_based import Faults
from tests.support.shopping import dynamodb_calls

USER = "u-buyer-calls"


@pytest.fixture
def faults() -> Iterator[Faults]:
    f = Faults(span=0)
    f.install()
    try:
        yield f
    finally:
        f.remove()


def card_number(last4: str) -> dict[str, str]:
    return {"card_number": sim.luhn_card("621226", last4)}


def listed(api: Api, card_id: str, user: str = USER) -> Any:
    return next(c for c in api.get("/v1/me/bank-cards", as_=user).json["items"] if c["card_id"] == card_id)


def tell(count: int, user: str = USER) -> list[str]:
    for i in range(count):
        tx = Tx()
        notifications.notify(tx, user, "payment_succeeded", f"t{i}", "body", "ord_1", f"calls-{user}-{i}", clock.now())
        tx.commit()
        clock.advance(1)
    return [n.notification_id for n in notifications.Notification.query(user)]


@pytest.mark.parametrize("first", [True, False])
def test_binding_a_card_takes_at_most_three_calls_and_answers_what_a_list_shows(api: Api, first: bool) -> None:
    assert api.get("/v1/me", as_=USER).status_code == 200  # the profile exists (made on first sight)
    if not first:
        assert api.post("/v1/me/bank-cards", card_number("1111"), as_=USER).status_code == 201
    key = new_key()
    with dynamodb_calls() as calls:
        r = api.post("/v1/me/bank-cards", card_number("2002"), as_=USER, idem=key)
    assert r.status_code == 201, r.json
    assert sum(calls.values()) <= 3, calls
    assert r.json == listed(api, r.json["card_id"]) and r.json["is_default"] is first
    again = api.post("/v1/me/bank-cards", card_number("2002"), as_=USER, idem=key)
    assert (again.status_code, again.json) == (201, r.json)
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_a_refused_card_takes_at_most_three_calls_and_replays(api: Api) -> None:
    assert api.post("/v1/me/bank-cards", card_number("2002"), as_=USER).status_code == 201
    key = new_key()
    with dynamodb_calls() as calls:
        r = api.post("/v1/me/bank-cards", card_number("2002"), as_=USER, idem=key)
    assert (r.status_code, r.json["code"]) == (409, "card_already_bound")
    assert sum(calls.values()) <= 3, calls
    again = api.post("/v1/me/bank-cards", card_number("2002"), as_=USER, idem=key)
    assert (again.status_code, again.json["code"]) == (409, "card_already_bound")
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_a_lost_answer_on_binding_a_card_is_replayed(api: Api, faults: Faults) -> None:
    """Regression: the claim was its own write; a retry after a lost answer on the binding
    redid the checks and answered 409 `card_already_bound` for the card it had bound."""
    assert api.get("/v1/me", as_=USER).status_code == 200
    key = new_key()
    faults.arm([(0, "lost_answer")], only="TransactWriteItems")
    first = api.post("/v1/me/bank-cards", card_number("2002"), as_=USER, idem=key)
    faults.enabled = False
    assert first.status_code == 503 and faults.injected["lost_answer"] == 1
    again = api.post("/v1/me/bank-cards", card_number("2002"), as_=USER, idem=key)
    assert again.status_code == 201, again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json == listed(api, again.json["card_id"]) and again.json["is_default"] is True


@pytest.mark.parametrize("already", [False, True])
def test_choosing_the_default_card_takes_at_most_three_calls(api: Api, already: bool) -> None:
    first = api.post("/v1/me/bank-cards", card_number("1111"), as_=USER).json["card_id"]
    second = api.post("/v1/me/bank-cards", card_number("2002"), as_=USER).json["card_id"]
    chosen = first if already else second
    key = new_key()
    with dynamodb_calls() as calls:
        r = api.put(f"/v1/me/bank-cards/{chosen}/default", as_=USER, idem=key)
    assert r.status_code == 200, r.json
    assert sum(calls.values()) <= 3, calls
    assert r.json == listed(api, chosen) and r.json["is_default"] is True
    assert api.get("/v1/me", as_=USER).json["default_card_id"] == chosen
    again = api.put(f"/v1/me/bank-cards/{chosen}/default", as_=USER, idem=key)
    assert (again.status_code, again.json) == (200, r.json)


def test_a_lost_answer_on_choosing_the_default_card_is_replayed(api: Api, faults: Faults) -> None:
    api.post("/v1/me/bank-cards", card_number("1111"), as_=USER)
    second = api.post("/v1/me/bank-cards", card_number("2002"), as_=USER).json["card_id"]
    key = new_key()
    faults.arm([(0, "lost_answer")], only="TransactWriteItems")
    first = api.put(f"/v1/me/bank-cards/{second}/default", as_=USER, idem=key)
    faults.enabled = False
    assert first.status_code == 503 and faults.injected["lost_answer"] == 1
    again = api.put(f"/v1/me/bank-cards/{second}/default", as_=USER, idem=key)
    assert again.status_code == 200, again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json == listed(api, second)


@pytest.mark.parametrize("named", [False, True])
def test_marking_notifications_read_takes_at_most_three_calls(api: Api, named: bool) -> None:
    ids = tell(30)
    body: dict[str, Any] = {"notification_ids": ids[:20]} if named else {"all": True}
    key = new_key()
    with dynamodb_calls() as calls:
        r = api.post("/v1/me/notifications/read", body, as_=USER, idem=key)
    assert r.status_code == 200, r.json
    assert sum(calls.values()) <= 3, calls
    assert r.json == ({"marked": 20, "unread_count": 10} if named else {"marked": 30, "unread_count": 0})
    assert r.json["unread_count"] == api.get("/v1/me/notifications", as_=USER).json["unread_count"]
    again = api.post("/v1/me/notifications/read", body, as_=USER, idem=key)
    assert (again.json, again.headers.get("Idempotent-Replayed")) == (r.json, "true")


@pytest.mark.parametrize("named", [False, True])
def test_a_lost_answer_on_marking_read_is_replayed(api: Api, faults: Faults, named: bool) -> None:
    ids = tell(3)
    body: dict[str, Any] = {"notification_ids": ids[:2]} if named else {"all": True}
    key = new_key()
    faults.arm([(0, "lost_answer")], only="TransactWriteItems")
    first = api.post("/v1/me/notifications/read", body, as_=USER, idem=key)
    faults.enabled = False
    assert first.status_code == 503 and faults.injected["lost_answer"] == 1
    again = api.post("/v1/me/notifications/read", body, as_=USER, idem=key)
    assert again.status_code == 200, again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json == ({"marked": 2, "unread_count": 1} if named else {"marked": 3, "unread_count": 0})
