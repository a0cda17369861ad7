"""Three DynamoDB calls for the buyer's account writes (issue 29): bank cards, notifications
read. The Idempotency-Key is claimed by the effect's own transaction and the answer is built
from what the write left, so the answer is what a read shows next, a replay answers the same,
and a lost answer on the transaction is replayed (never stuck `idempotency_in_flight`)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import errors, idempotency
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.db import Tx
from chalicelib.edge import StoredResponse
from chalicelib.models.users import User
from chalicelib.services import notifications, privacy
from tests.conftest import Api, new_key
from tests.support import channel_sim as sim
from tests.support.model_based import Faults
from tests.support.shopping import dynamodb_calls, racing_transactions, run_together
from tests.support.wallet import earn

USER = "u-buyer-calls"


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


def test_closing_an_account_takes_fewer_calls_and_answers_as_the_write_left_it(api: Api, activated_user: str) -> None:
    """Closure checks everything open twice (before its marker, and after it: what opened
    before it), deletes cards, devices, addresses and the cart, then scrubs the kept orders:
    it stays above three calls (23 before issue 29). Its answer is what the write left."""
    with dynamodb_calls() as calls:
        r = api.post("/v1/me/closure", as_=activated_user, idem=new_key())
    assert r.status_code == 200, r.json
    assert sum(calls.values()) <= 17 and calls["GetItem"] == 0, calls
    user = User.get(activated_user, consistent_read=True)
    assert (r.json["closed_at"], r.json["retention_until"]) == (user.closed_at, user.retention_until)
    assert api.get("/v1/me", as_=activated_user).status_code == 401  # closed: its tokens are refused


def test_a_refused_closure_takes_six_calls_and_replays(api: Api, activated_user: str) -> None:
    earn(activated_user, 10_000)
    clock.advance(settings().rules.redemption_min_account_age_seconds + 60)
    redeemed = api.post("/v1/wallet/redemptions", {"amount_fen": 100}, as_=activated_user, idem=new_key())
    assert redeemed.status_code in (201, 202), redeemed.json
    key = new_key()
    with dynamodb_calls() as calls:
        r = api.post("/v1/me/closure", as_=activated_user, idem=key)
    assert (r.status_code, r.json["code"]) == (409, "account_not_closable"), r.json
    assert sum(calls.values()) <= 6, calls  # the user and its books, three queries, the key
    again = api.post("/v1/me/closure", as_=activated_user, idem=key)
    assert (again.status_code, again.json["errors"]) == (409, r.json["errors"])
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_the_same_closure_sent_twice_at_once_closes_the_account(api: Api, activated_user: str) -> None:
    """Regression: the twin of a closure (the same Idempotency-Key) was refused
    `account_closing` by the first one's marker and stored that answer under the key, so the
    first one's transaction lost the key and the account stayed open."""
    key = new_key()
    claims = [
        idempotency.claim_in_tx(
            idempotency.ClaimRequest(
                user_id=activated_user,
                route="POST /v1/me/closure",
                key=key,
                req_hash="same",
                now=clock.now(),
                render=lambda user: StoredResponse(200, user.closed_at, "application/json"),
            )
        )
        for _ in range(2)
    ]
    with racing_transactions(2, first_only=True):
        results = run_together(*(lambda c=c: privacy.close(activated_user, clock.now(), idem=c) for c in claims))
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    loser = next(r for r in results if isinstance(r, Exception))
    assert isinstance(loser, errors.DomainError) and loser.code != "account_closing", loser
    assert User.get(activated_user, consistent_read=True).closed_at


def test_a_list_of_notifications_on_one_page_takes_one_query(api: Api) -> None:
    ids = tell(3)
    assert api.post("/v1/me/notifications/read", {"notification_ids": ids[:1]}, as_=USER).status_code == 200
    with dynamodb_calls() as calls:
        whole = api.get("/v1/me/notifications", as_=USER)
    assert calls == {"Query": 1}, calls
    assert (len(whole.json["items"]), whole.json["unread_count"], whole.json["next_cursor"]) == (3, 2, None)
    first = api.get("/v1/me/notifications?limit=2", as_=USER)  # more pages: the unread index counts them
    assert (first.json["unread_count"], bool(first.json["next_cursor"])) == (2, True)
    rest = api.get(f"/v1/me/notifications?limit=2&cursor={first.json['next_cursor']}", as_=USER)
    assert (len(rest.json["items"]), rest.json["unread_count"]) == (1, 2)
