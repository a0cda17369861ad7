"""Three DynamoDB calls for a write (issue 29), risk operators' and merchant webhooks' routes:
the Idempotency-Key is claimed by the effect's own transaction and the answer built from what
the write left. A lost answer on that transaction is replayed, never redone nor stuck
`idempotency_in_flight`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.models.webhooks import WebhookEndpoint
from chalicelib.services.risk import decide
from chalicelib.services.webhooks import endpoints
from scripts.webhook_receiver import Receiver
from tests.conftest import Api, new_key
from tests.support.model_based import Faults
from tests.support.shopping import MERCHANT, checkout, confirm, create_product, credit, dynamodb_calls, sku_ids

OPERATOR = "risk-op-calls"
RISK = {"as_": OPERATOR, "roles": ["risk"]}
AS_MERCHANT = {"as_": MERCHANT, "roles": ["merchant"]}
ENDPOINTS = "/v1/merchant/webhook-endpoints"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([]).start()
    yield r
    r.stop()


def held(api: Api, user: str) -> tuple[str, str]:
    """A first order above ¥300, held for review: (order id, review id)."""
    product = create_product(api, skus=[{"attributes": {"规格": "标准"}, "price_fen": 35000, "stock": 3}])
    order = checkout(api, user, [(sku_ids(product)[0], 1)]).json["orders"][0]
    r = confirm(api, user, order)
    assert (r.status_code, r.json["status"]) == (202, "risk_review"), r.json
    assert api.get("/v1/risk/reviews", **RISK).status_code == 200  # the operator's account seen open
    return order["order_id"], decide.decision_id(order["order_id"])


def counted(fn: Any) -> tuple[Any, int]:
    with dynamodb_calls() as calls:
        r = fn()
    return r, sum(calls.values())


# --- risk -------------------------------------------------------------------------------------


@pytest.mark.parametrize("verdict", ["approve", "decline"])
def test_a_review_decision_answers_what_the_case_shows_in_three_calls(
    api: Api, activated_user: str, verdict: str
) -> None:
    order_id, review_id = held(api, activated_user)
    case, calls = counted(lambda: api.get(f"/v1/risk/reviews/{review_id}", **RISK))
    assert case.status_code == 200 and calls <= 3, calls
    path = f"/v1/risk/reviews/{review_id}/decision"
    decided, calls = counted(lambda: api.post(path, {"decision": verdict, "note": "核实"}, **RISK, idem=new_key()))
    assert decided.status_code == 200, decided.json
    assert calls <= 3, calls
    seen = api.get(f"/v1/risk/reviews/{review_id}", **RISK).json
    same = ("status", "decided_at", "decided_by", "decision_note", "order", "reasons", "inputs")
    assert {k: decided.json[k] for k in same} == {k: seen[k] for k in same}
    assert seen["order"]["status"] == ("placed" if verdict == "approve" else "cancelled")
    assert seen["order"] == api.get(f"/v1/merchant/orders/{order_id}", **AS_MERCHANT).json or verdict == "decline"


def test_a_lost_answer_on_a_review_decision_is_replayed_not_redone(
    api: Api, activated_user: str, faults: Faults
) -> None:
    _, review_id = held(api, activated_user)
    path, key, body = f"/v1/risk/reviews/{review_id}/decision", new_key(), {"decision": "approve", "note": "ok"}
    faults.arm([(0, "lost_answer")], only="TransactWriteItems")
    first = api.post(path, body, **RISK, idem=key)
    faults.enabled = False
    assert first.status_code == 503 and faults.injected["lost_answer"] == 1
    again = api.post(path, body, **RISK, idem=key)
    assert again.status_code == 200, again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json["status"] == api.get(f"/v1/risk/reviews/{review_id}", **RISK).json["status"] == "approved"
    assert credit(api, activated_user)["used_fen"] == 35000  # reserved once


def test_removing_a_list_entry_takes_two_calls_and_a_lost_answer_is_replayed(api: Api, faults: Faults) -> None:
    def add(value: str) -> str:
        body = {"kind": "phone", "value": value, "reason": "fraud"}
        r = api.post("/v1/risk/blocklist", body, **RISK, idem=new_key())
        assert r.status_code == 201, r.json
        return str(r.json["entry_id"])

    first_entry, second_entry = add("13800000001"), add("13800000002")
    removed, calls = counted(lambda: api.delete(f"/v1/risk/blocklist/{first_entry}", **RISK, idem=new_key()))
    assert (removed.status_code, calls) == (204, 2)
    key = new_key()
    faults.arm([(0, "lost_answer")], only="TransactWriteItems")
    lost = api.delete(f"/v1/risk/blocklist/{second_entry}", **RISK, idem=key)
    faults.enabled = False
    assert lost.status_code == 503
    again = api.delete(f"/v1/risk/blocklist/{second_entry}", **RISK, idem=key)
    assert again.status_code == 204 and again.headers.get("Idempotent-Replayed") == "true"
    assert api.delete(f"/v1/risk/blocklist/{second_entry}", **RISK, idem=new_key()).status_code == 404


# --- webhooks ---------------------------------------------------------------------------------


def subscribe(api: Api, receiver: Receiver) -> dict[str, Any]:
    assert api.get(ENDPOINTS, **AS_MERCHANT).status_code == 200  # the merchant's account seen open
    body = {"url": receiver.url, "events": ["*"]}
    r, calls = counted(lambda: api.post(ENDPOINTS, body, **AS_MERCHANT, idem=new_key()))
    assert r.status_code == 201 and calls <= 3, (r.json, calls)
    return dict(r.json)


def test_endpoint_writes_take_at_most_three_calls_and_answer_what_a_read_shows(api: Api, receiver: Receiver) -> None:
    endpoint_id = subscribe(api, receiver)["endpoint_id"]
    path = f"{ENDPOINTS}/{endpoint_id}"
    changed, calls = counted(
        lambda: api.put(path, {"description": "仓库", "enabled": False}, **AS_MERCHANT, idem=new_key())
    )
    assert changed.status_code == 200 and calls <= 3, (changed.json, calls)
    assert changed.json == api.get(path, **AS_MERCHANT).json and changed.json["status"] == "disabled"
    enabled, calls = counted(lambda: api.put(path, {"enabled": True}, **AS_MERCHANT, idem=new_key()))
    assert enabled.status_code == 200 and calls <= 3, (enabled.json, calls)  # nothing missed to resend
    assert enabled.json == api.get(path, **AS_MERCHANT).json and enabled.json["disabled_at"] is None
    rolled, calls = counted(lambda: api.post(f"{path}/secret", {}, **AS_MERCHANT, idem=new_key()))
    assert rolled.status_code == 200 and calls <= 3, (rolled.json, calls)
    secret = rolled.json.pop("secret")
    assert rolled.json == api.get(path, **AS_MERCHANT).json and rolled.json["previous_secret_expires_at"]
    stored = WebhookEndpoint.get(MERCHANT, endpoint_id, consistent_read=True)
    assert secret not in str(stored.secret) and secret in endpoints.active_secrets(stored, stored_now(stored))
    pinged, calls = counted(lambda: api.post(f"{path}/test", **AS_MERCHANT, idem=new_key()))
    assert pinged.status_code == 202 and calls <= 3, (pinged.json, calls)
    drain()  # sent: the event now names its endpoint, so a replay resends it
    event = f"/v1/merchant/webhook-events/{pinged.json['event_id']}"
    again, calls = counted(lambda: api.post(f"{event}/redelivery", **AS_MERCHANT, idem=new_key()))
    assert again.status_code == 202 and calls <= 3, (again.json, calls)
    assert again.json == {**api.get(event, **AS_MERCHANT).json, "body": None}
    replayed, calls = counted(
        lambda: api.post(f"{path}/replay", {"since": "2026-01-01T00:00:00Z"}, **AS_MERCHANT, idem=new_key())
    )
    assert (replayed.status_code, replayed.json, calls) == (202, {"replayed": 1}, 2)


def drain() -> None:
    import app
    from chalicelib.config import settings
    from chalicelib.local import worker

    worker.drain({settings().webhook_queue_name: app._deliver_webhooks})


def stored_now(endpoint: WebhookEndpoint) -> Any:
    from chalicelib.clock import parse_iso

    return parse_iso(str(endpoint.updated_at))


def test_a_lost_answer_on_a_secret_roll_replays_the_same_secret_rolled_once(
    api: Api, receiver: Receiver, faults: Faults
) -> None:
    created = subscribe(api, receiver)
    path, key = f"{ENDPOINTS}/{created['endpoint_id']}/secret", new_key()
    faults.arm([(0, "lost_answer")], only="TransactWriteItems")
    lost = api.post(path, {}, **AS_MERCHANT, idem=key)
    faults.enabled = False
    assert lost.status_code == 503
    again = api.post(path, {}, **AS_MERCHANT, idem=key)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true", again.json
    stored = WebhookEndpoint.get(MERCHANT, created["endpoint_id"], consistent_read=True)
    assert endpoints.active_secrets(stored, stored_now(stored)) == [again.json["secret"], created["secret"]]


@pytest.mark.parametrize("route", ["replay", "redelivery", "test"])
def test_a_lost_answer_on_a_resend_is_replayed(api: Api, receiver: Receiver, faults: Faults, route: str) -> None:
    endpoint = f"{ENDPOINTS}/{subscribe(api, receiver)['endpoint_id']}"
    event_id = api.post(f"{endpoint}/test", **AS_MERCHANT, idem=new_key()).json["event_id"]
    path, body = {
        "replay": (f"{endpoint}/replay", {"since": "2026-01-01T00:00:00Z"}),
        "redelivery": (f"/v1/merchant/webhook-events/{event_id}/redelivery", None),
        "test": (f"{endpoint}/test", None),
    }[route]
    key = new_key()
    faults.arm([(0, "lost_answer")], only="TransactWriteItems")
    lost = api.post(path, body, **AS_MERCHANT, idem=key)
    faults.enabled = False
    assert lost.status_code == 503
    again = api.post(path, body, **AS_MERCHANT, idem=key)
    assert again.status_code == 202 and again.headers.get("Idempotent-Replayed") == "true", again.json
    assert again.json == api.post(path, body, **AS_MERCHANT, idem=key).json


def test_replay_of_a_missing_endpoint_is_a_404_and_resends_nothing(api: Api, receiver: Receiver) -> None:
    endpoint = f"{ENDPOINTS}/{subscribe(api, receiver)['endpoint_id']}"
    assert api.post(f"{endpoint}/test", **AS_MERCHANT).status_code == 202
    assert api.delete(endpoint, **AS_MERCHANT).status_code == 204
    r = api.post(f"{endpoint}/replay", {"since": "2026-01-01T00:00:00Z"}, **AS_MERCHANT, idem=new_key())
    assert (r.status_code, r.json["code"]) == (404, "webhook_endpoint_not_found")
