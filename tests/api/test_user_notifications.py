"""The user's notifications: one per event, newest first, unread count, mark read."""

from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.clock import clock
from chalicelib.db import Tx
from chalicelib.models.notifications import Notification
from chalicelib.services import notifications
from tests.conftest import Api
from tests.support.shopping import dynamodb_calls

USER = "u-notes"


def tell(event_id: str, user: str = USER, title: str = "t") -> None:
    tx = Tx()
    notifications.notify(tx, user, "payment_succeeded", title, "body", "ord_1", event_id, clock.now())
    tx.commit()


def test_the_same_event_notifies_once() -> None:
    tell("payment:pa1:succeeded")
    with pytest.raises(errors.DomainError) as err:
        tell("payment:pa1:succeeded")
    assert err.value.code == "already_notified"
    assert len(list(Notification.query(USER))) == 1


def test_notifications_list_newest_first_with_an_unread_count_and_a_cursor(api: Api) -> None:
    for i in range(5):
        tell(f"event-{i}", title=f"n{i}")
        clock.advance(60)
    first = api.get("/v1/me/notifications?limit=3", as_=USER)
    assert first.status_code == 200, first.json
    assert [n["title"] for n in first.json["items"]] == ["n4", "n3", "n2"]
    assert first.json["unread_count"] == 5
    assert all(n["read"] is False for n in first.json["items"])
    second = api.get(f"/v1/me/notifications?limit=3&cursor={first.json['next_cursor']}", as_=USER)
    assert [n["title"] for n in second.json["items"]] == ["n1", "n0"]
    assert second.json["next_cursor"] is None


def test_a_cursor_from_another_user_is_refused(api: Api) -> None:
    for i in range(3):
        tell(f"e{i}")
    cursor = api.get("/v1/me/notifications?limit=1", as_=USER).json["next_cursor"]
    r = api.get(f"/v1/me/notifications?cursor={cursor}", as_="u-other")
    assert (r.status_code, r.json["code"]) == (400, "invalid_cursor")


def test_marking_some_read_lowers_the_unread_count(api: Api) -> None:
    for i in range(3):
        tell(f"e{i}")
    ids = [n["notification_id"] for n in api.get("/v1/me/notifications", as_=USER).json["items"]]
    r = api.post("/v1/me/notifications/read", {"notification_ids": ids[:2]}, as_=USER)
    assert r.status_code == 200, r.json
    assert r.json == {"marked": 2, "unread_count": 1}
    again = api.post("/v1/me/notifications/read", {"notification_ids": ids[:2]}, as_=USER)
    assert again.json == {"marked": 0, "unread_count": 1}
    items = api.get("/v1/me/notifications", as_=USER).json["items"]
    assert [n["read"] for n in items] == [True, True, False]


def test_marking_all_read(api: Api) -> None:
    for i in range(30):
        tell(f"e{i}")
    r = api.post("/v1/me/notifications/read", {"all": True}, as_=USER)
    assert r.json == {"marked": 30, "unread_count": 0}


def test_another_users_notification_cannot_be_marked(api: Api) -> None:
    tell("e-mine", user="u-owner")
    [mine] = Notification.query("u-owner")
    r = api.post("/v1/me/notifications/read", {"notification_ids": [mine.notification_id]}, as_=USER)
    assert (r.status_code, r.json["code"]) == (404, "notification_not_found")
    assert Notification.get("u-owner", mine.notification_id).read_at is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"all": False},
        {"all": True, "notification_ids": ["n_" + "0" * 24]},
        {"notification_ids": []},
        {"notification_ids": ["bad id"]},
    ],
)
def test_mark_read_takes_ids_or_all(api: Api, body: dict[str, object]) -> None:
    assert api.post("/v1/me/notifications/read", body, as_=USER).status_code == 400


@pytest.mark.parametrize("named", [False, True])
def test_marking_many_read_takes_three_calls(api: Api, named: bool) -> None:
    """Issue 29: one read finds them (all: the unread index; named: the ids, and a count of the
    unread), and transactions of 25 mark them: the answer is built from what they wrote."""
    for i in range(30):
        tell(f"many-{i}")
    if named:
        page = api.get("/v1/me/notifications?limit=20", as_=USER).json["items"]
        body: dict[str, object] = {"notification_ids": [n["notification_id"] for n in page]}
    else:
        body = {"all": True}
    with dynamodb_calls() as calls:
        r = api.post("/v1/me/notifications/read", body, as_=USER)
    assert r.json == ({"marked": 20, "unread_count": 10} if named else {"marked": 30, "unread_count": 0})
    assert sum(calls.values()) <= 3, calls
    again = api.post("/v1/me/notifications/read", body, as_=USER)
    assert again.json == {"marked": 0, "unread_count": 10 if named else 0}
