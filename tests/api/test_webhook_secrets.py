"""A webhook endpoint's signing secrets: shown once, never kept in plain text, replayed
faithfully under the same Idempotency-Key, and every rolled secret honoured until its own
expiry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.models.idempotency import IdempotencyRecord
from scripts.webhook_receiver import Receiver
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
