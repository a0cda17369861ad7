"""A webhook endpoint's signing secrets: shown once, never kept in plain text, replayed
faithfully under the same Idempotency-Key, and every rolled secret honoured until its own
expiry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.clock import clock, iso
from chalicelib.config import settings
from chalicelib.local import worker
from chalicelib.models.idempotency import IdempotencyRecord
from scripts.webhook_receiver import Delivery, Receiver
from tests.conftest import Api, new_key
from tests.support.shopping import MERCHANT

ENDPOINTS = "/v1/merchant/webhook-endpoints"
AS_MERCHANT: dict[str, Any] = {"as_": MERCHANT, "roles": ["merchant"]}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([]).start()
    yield r
    r.stop()


def stored_answers() -> list[str]:
    """Every attribute of every Idempotency-Key record, as text."""
    return [str(v) for record in IdempotencyRecord.scan() for v in record.attribute_values.values()]


def test_a_created_endpoints_secret_is_never_stored_plain_and_a_same_key_replay_shows_it_again(
    api: Api, receiver: Receiver
) -> None:
    key = new_key()
    body = {"url": receiver.url, "events": ["*"]}
    created = api.post(ENDPOINTS, body, idem=key, **AS_MERCHANT)
    assert created.status_code == 201, created.json
    secret = created.json["secret"]
    assert stored_answers() and not any(secret in text for text in stored_answers())
    again = api.post(ENDPOINTS, body, idem=key, **AS_MERCHANT)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (again.status_code, again.json) == (201, created.json)  # a lost answer is not a lost secret
    assert len(api.get(ENDPOINTS, **AS_MERCHANT).json["items"]) == 1


def test_a_rolled_secret_is_never_stored_plain_and_a_same_key_replay_shows_it_again(
    api: Api, receiver: Receiver
) -> None:
    endpoint = api.post(ENDPOINTS, {"url": receiver.url, "events": ["*"]}, **AS_MERCHANT).json["endpoint_id"]
    key = new_key()
    rolled = api.post(f"{ENDPOINTS}/{endpoint}/secret", {}, idem=key, **AS_MERCHANT)
    assert rolled.status_code == 200, rolled.json
    assert not any(rolled.json["secret"] in text for text in stored_answers())
    again = api.post(f"{ENDPOINTS}/{endpoint}/secret", {}, idem=key, **AS_MERCHANT)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert (again.status_code, again.json) == (200, rolled.json)  # not a second roll


# --- rolling twice -----------------------------------------------------------------------------


def drain() -> None:
    import app

    worker.drain({settings().webhook_queue_name: app._deliver_webhooks})


def roll(api: Api, endpoint: str, overlap: int | None = None) -> Any:
    body = {} if overlap is None else {"previous_expires_in_seconds": overlap}
    return api.post(f"{ENDPOINTS}/{endpoint}/secret", body, **AS_MERCHANT)


def pinged(api: Api, receiver: Receiver, endpoint: str) -> Delivery:
    assert api.post(f"{ENDPOINTS}/{endpoint}/test", **AS_MERCHANT).status_code == 202
    drain()
    return receiver.received[-1]


def verifies(secret: str, sent: Delivery) -> bool:
    try:
        Webhook(secret).verify(sent.body, sent.headers)
    except WebhookVerificationError:
        return False
    return True


def test_a_second_roll_keeps_the_first_secret_signing_until_its_own_expiry(api: Api, receiver: Receiver) -> None:
    created = api.post(ENDPOINTS, {"url": receiver.url, "events": ["*"]}, **AS_MERCHANT).json
    endpoint, first = created["endpoint_id"], created["secret"]
    second = roll(api, endpoint).json["secret"]  # the first signs 24 h more
    clock.advance(3600)
    third = roll(api, endpoint).json["secret"]  # within those 24 h: the second signs 24 h more too
    sent = pinged(api, receiver, endpoint)
    assert [verifies(s, sent) for s in (first, second, third)] == [True, True, True]
    assert len(sent.headers["webhook-signature"].split(" ")) == 3
    clock.advance(86400 - 3600 - 1)  # a second before the first secret's own expiry
    assert verifies(first, pinged(api, receiver, endpoint))
    clock.advance(1)  # the first secret's expiry; the second's is an hour later
    sent = pinged(api, receiver, endpoint)
    assert [verifies(s, sent) for s in (first, second, third)] == [False, True, True]
    clock.advance(3600)
    sent = pinged(api, receiver, endpoint)
    assert [verifies(s, sent) for s in (first, second, third)] == [False, False, True]


def test_the_endpoint_shows_when_each_previous_secret_stops_signing(api: Api, receiver: Receiver) -> None:
    endpoint = api.post(ENDPOINTS, {"url": receiver.url, "events": ["*"]}, **AS_MERCHANT).json["endpoint_id"]
    roll(api, endpoint, 7200)
    clock.advance(60)
    rolled = roll(api, endpoint, 600).json
    first_ends, second_ends = clock.now() + timedelta(seconds=7200 - 60), clock.now() + timedelta(seconds=600)
    expiries = [iso(first_ends), iso(second_ends)]
    assert [p["expires_at"] for p in rolled["previous_secrets"]] == sorted(expiries)
    assert rolled["previous_secret_expires_at"] == max(expiries)  # when only the current one signs
    assert api.get(f"{ENDPOINTS}/{endpoint}", **AS_MERCHANT).json == {k: v for k, v in rolled.items() if k != "secret"}


def test_at_most_so_many_previous_secrets_sign_and_a_roll_past_them_is_refused(api: Api, receiver: Receiver) -> None:
    endpoint = api.post(ENDPOINTS, {"url": receiver.url, "events": ["*"]}, **AS_MERCHANT).json["endpoint_id"]
    bound = settings().webhooks.max_previous_secrets
    for _ in range(bound):
        assert roll(api, endpoint).status_code == 200
    refused = roll(api, endpoint)
    assert (refused.status_code, refused.json["code"]) == (409, "too_many_signing_secrets")
    current = roll(api, endpoint, 0)  # the current secret ends now: nothing more signs
    assert current.status_code == 200, current.json
    sent = pinged(api, receiver, endpoint)
    assert len(sent.headers["webhook-signature"].split(" ")) == bound + 1
    assert verifies(current.json["secret"], sent)
    clock.advance(86400)  # every previous secret expired: rolling is free again
    assert roll(api, endpoint).status_code == 200
    assert len(pinged(api, receiver, endpoint).headers["webhook-signature"].split(" ")) == 2


def test_a_previous_secret_kept_the_older_way_still_signs_until_its_expiry_after_another_roll(
    api: Api, receiver: Receiver
) -> None:
    from chalicelib.models.webhooks import WebhookEndpoint
    from chalicelib.services.webhooks.endpoints import sealed

    created = api.post(ENDPOINTS, {"url": receiver.url, "events": ["*"]}, **AS_MERCHANT).json
    endpoint, current = created["endpoint_id"], created["secret"]
    older = "whsec_" + "A" * 43 + "="  # rolled before several were kept: one previous_secret
    WebhookEndpoint(MERCHANT, endpoint).update(
        actions=[
            WebhookEndpoint.previous_secret.set(sealed(endpoint, older)),
            WebhookEndpoint.previous_expires_at.set(iso(clock.now() + timedelta(seconds=600))),
        ]
    )
    newest = roll(api, endpoint).json["secret"]
    sent = pinged(api, receiver, endpoint)
    assert [verifies(s, sent) for s in (older, current, newest)] == [True, True, True]
    clock.advance(600)
    sent = pinged(api, receiver, endpoint)
    assert [verifies(s, sent) for s in (older, current, newest)] == [False, True, True]
