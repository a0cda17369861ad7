"""Merchant webhooks: the outbox, endpoints, signed delivery, retries, the log (SPEC.md
"Merchant webhooks"). Receivers listen on 127.0.0.1; other hosts only meet a stub resolver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib import schedules
from chalicelib.api.webhook_objects import render
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.db import Tx
from chalicelib.local import worker
from chalicelib.models.webhooks import WebhookEvent
from chalicelib.services.webhooks import addresses, delivery, event_keys, log, signing
from chalicelib.services.webhooks.outbox import emit
from scripts.webhook_receiver import Delivery, Receiver
from tests.conftest import Api, new_key
from tests.support.shopping import MERCHANT, MERCHANT_2, checkout, confirm, create_product, sku_ids

ENDPOINTS = "/v1/merchant/webhook-endpoints"
EVENTS = "/v1/merchant/webhook-events"


def as_merchant(merchant: str = MERCHANT) -> dict[str, Any]:
    return {"as_": merchant, "roles": ["merchant"]}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([]).start()
    yield r
    r.stop()


def subscribe(
    api: Api, receiver: Receiver, events: list[str] | None = None, merchant: str = MERCHANT
) -> dict[str, Any]:
    r = api.post(ENDPOINTS, {"url": receiver.url, "events": events or ["*"]}, idem=new_key(), **as_merchant(merchant))
    assert r.status_code == 201, r.json
    receiver.secrets.append(r.json["secret"])
    return dict(r.json)


def drain() -> dict[str, int]:
    import app

    return worker.drain({settings().webhook_queue_name: app._deliver_webhooks})


def sweep() -> dict[str, Any]:
    return schedules.run("deliver_webhooks", clock.now())


def confirmed_order(api: Api, user: str) -> dict[str, Any]:
    product = create_product(api)
    order = checkout(api, user, [(sku_ids(product)[0], 1)]).json["orders"][0]
    r = confirm(api, user, order)
    assert r.status_code == 200, r.json
    return dict(order)


def events_of(merchant: str = MERCHANT) -> list[WebhookEvent]:
    """Every event of the merchant, oldest first, from every shard."""
    return event_keys.merged(
        merchant, lambda key: iter(WebhookEvent.query(key, consistent_read=True)), newest_first=False, limit=10**6
    )


# --- the outbox ------------------------------------------------------------------------------


def test_a_confirmed_order_is_delivered_signed_with_the_merchant_view(
    api: Api, activated_user: str, receiver: Receiver
) -> None:
    subscribe(api, receiver, ["order.confirmed"])
    order = confirmed_order(api, activated_user)
    drain()
    [event] = receiver.events()
    assert event["type"] == "order.confirmed"
    assert event["data"]["object"] == api.get(f"/v1/merchant/orders/{order['order_id']}", **as_merchant()).json
    assert event["sequence"] == 2  # its second transition (awaiting_confirmation, placed)
    [sent] = receiver.received
    assert sent.headers["webhook-id"] == event["id"]


def test_a_failed_confirmation_emits_nothing(api: Api, activated_user: str, receiver: Receiver) -> None:
    subscribe(api, receiver)
    product = create_product(api)
    order = checkout(api, activated_user, [(sku_ids(product)[0], 1)]).json["orders"][0]
    assert confirm(api, activated_user, order, password="000000").status_code != 200
    drain()
    assert events_of() == []
    assert receiver.received == []


def test_an_event_rides_in_its_transaction_and_is_gone_when_it_is_cancelled() -> None:
    from chalicelib import errors
    from chalicelib.models.orders import Order

    tx = Tx()
    emit(tx, MERCHANT, "order.paid", {"endpoint_id": "x"}, clock.now())
    tx.check(Order, "no-such-order", condition=Order.order_id.exists(), on_fail=errors.conflict("gone", "gone"))
    with pytest.raises(errors.Conflict):
        tx.commit()
    assert events_of() == []
    tx = Tx()
    emit(tx, MERCHANT, "order.paid", {"endpoint_id": "x"}, clock.now())
    tx.commit()
    assert len(events_of()) == 1


def test_events_add_no_dynamodb_call_to_the_confirmation(api: Api, activated_user: str, receiver: Receiver) -> None:
    from tests.support.shopping import dynamodb_calls

    subscribe(api, receiver)
    product = create_product(api)
    order = checkout(api, activated_user, [(sku_ids(product)[0], 1)]).json["orders"][0]
    with dynamodb_calls() as calls:
        assert confirm(api, activated_user, order).status_code == 200
    assert calls["TransactWriteItems"] == 1
    assert not any("webhook" in op.lower() for op in calls)
    assert len(events_of()) == 1


# --- endpoints ------------------------------------------------------------------------------


def test_the_secret_is_shown_once(api: Api, receiver: Receiver) -> None:
    created = subscribe(api, receiver)
    assert created["secret"].startswith("whsec_")
    assert len(Webhook(created["secret"])._whsecret) == 32
    listed = api.get(ENDPOINTS, **as_merchant()).json["items"]
    assert [e["endpoint_id"] for e in listed] == [created["endpoint_id"]]
    assert "secret" not in listed[0]
    assert "secret" not in api.get(f"{ENDPOINTS}/{created['endpoint_id']}", **as_merchant()).json
    from chalicelib.models.webhooks import WebhookEndpoint

    stored = str(WebhookEndpoint.get(MERCHANT, created["endpoint_id"]).secret)
    assert created["secret"] not in stored  # kept encrypted with the stage's data key


def test_a_merchant_has_at_most_ten_endpoints(api: Api, receiver: Receiver) -> None:
    for _ in range(settings().webhooks.max_endpoints):
        subscribe(api, receiver)
    r = api.post(ENDPOINTS, {"url": receiver.url, "events": ["*"]}, **as_merchant())
    assert (r.status_code, r.json["code"]) == (409, "too_many_webhook_endpoints")
    first = api.get(ENDPOINTS, **as_merchant()).json["items"][0]["endpoint_id"]
    assert api.delete(f"{ENDPOINTS}/{first}", **as_merchant()).status_code == 204
    subscribe(api, receiver)


def test_another_merchants_endpoints_and_events_are_404(api: Api, receiver: Receiver) -> None:
    endpoint = subscribe(api, receiver)["endpoint_id"]
    event_id = api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant()).json["event_id"]
    other = as_merchant(MERCHANT_2)
    for r in (
        api.get(f"{ENDPOINTS}/{endpoint}", **other),
        api.put(f"{ENDPOINTS}/{endpoint}", {"events": ["*"]}, **other),
        api.delete(f"{ENDPOINTS}/{endpoint}", **other),
        api.post(f"{ENDPOINTS}/{endpoint}/secret", {}, **other),
        api.post(f"{ENDPOINTS}/{endpoint}/test", **other),
        api.post(f"{ENDPOINTS}/{endpoint}/replay", {"since": "2026-01-01T00:00:00Z"}, **other),
        api.get(f"{EVENTS}/{event_id}", **other),
        api.post(f"{EVENTS}/{event_id}/redelivery", **other),
    ):
        assert r.status_code == 404, r.json
    assert api.get(EVENTS, **other).json["items"] == []


def test_ping_reaches_only_its_endpoint(api: Api, receiver: Receiver) -> None:
    other = Receiver([]).start()
    try:
        endpoint = subscribe(api, receiver)["endpoint_id"]
        subscribe(api, other)
        api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant())
        drain()
        assert [e["type"] for e in receiver.events()] == ["ping"]
        assert other.received == []
    finally:
        other.stop()


# --- signatures ----------------------------------------------------------------------------


def signed(secret_list: list[str], body: str = '{"a":1}', at: datetime | None = None) -> dict[str, str]:
    return signing.headers("evt_1", body, secret_list, at or datetime.now(UTC))


def test_a_signature_verifies_with_the_standardwebhooks_package() -> None:
    secret = signing.new_secret()
    assert Webhook(secret).verify('{"a":1}', signed([secret])) == {"a": 1}


@pytest.mark.parametrize(
    "spoil",
    [
        lambda h, s: ('{"a":2}', h),  # a tampered body
        lambda h, s: ('{"a":1}', signed([signing.new_secret()])),  # another secret
        lambda h, s: ('{"a":1}', signed([s], at=datetime.now(UTC) - timedelta(minutes=6))),  # too old
        lambda h, s: ('{"a":1}', signed([s], at=datetime.now(UTC) + timedelta(minutes=6))),  # too new
    ],
)
def test_a_spoiled_delivery_does_not_verify(spoil: Any) -> None:
    secret = signing.new_secret()
    body, headers = spoil(signed([secret]), secret)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, headers)


def test_during_a_roll_both_secrets_verify_and_afterwards_only_the_new(api: Api, receiver: Receiver) -> None:
    created = subscribe(api, receiver)
    old = created["secret"]
    endpoint = created["endpoint_id"]
    rolled = api.post(f"{ENDPOINTS}/{endpoint}/secret", {"previous_expires_in_seconds": 3600}, **as_merchant())
    assert rolled.status_code == 200, rolled.json
    new = rolled.json["secret"]
    assert new != old
    api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant())
    drain()
    [sent] = receiver.received
    for secret in (old, new):
        Webhook(secret).verify(sent.body, sent.headers)
    clock.advance(3601)
    api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant())
    drain()
    last = receiver.received[-1]
    Webhook(new).verify(last.body, last.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(last.body, last.headers)


# --- retries, 410, disabling ---------------------------------------------------------------------


def failing(status: int, headers: dict[str, str] | None = None) -> Any:
    def answer(_: Delivery) -> tuple[int, dict[str, str]]:
        return status, headers or {}

    return answer


def test_retries_follow_the_schedule_on_the_service_clock(api: Api, receiver: Receiver) -> None:
    receiver.answer = failing(500)
    endpoint = subscribe(api, receiver)["endpoint_id"]
    event_id = api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant()).json["event_id"]
    drain()
    schedule = settings().webhooks.retry_schedule
    jitter = settings().webhooks.jitter_percent / 100
    for n, step in enumerate(schedule, start=1):
        state = api.get(f"{EVENTS}/{event_id}", **as_merchant()).json["deliveries"][0]
        assert (state["state"], state["attempts"]) == ("pending", n)
        wait = (datetime.fromisoformat(state["next_at"]) - clock.now()).total_seconds()
        assert step * (1 - jitter) - 1 <= wait <= step * (1 + jitter) + 1
        clock.advance(int(wait) - 1)
        sweep()
        assert len(receiver.received) == n  # not yet
        clock.advance(2)
        sweep()
        assert len(receiver.received) == n + 1
    view = api.get(f"{EVENTS}/{event_id}", **as_merchant()).json
    assert view["delivery"] == "failed"
    assert len(view["attempts"]) == len(schedule) + 1
    assert {a["status"] for a in view["attempts"]} == {500}
    assert view["attempts"][0]["answer"] == "status 500"
    assert len({d.headers["webhook-id"] for d in receiver.received}) == 1  # stable id
    assert len({d.body for d in receiver.received}) == 1


def test_retry_after_is_honoured(api: Api, receiver: Receiver) -> None:
    receiver.answer = failing(429, {"Retry-After": "120"})
    endpoint = subscribe(api, receiver)["endpoint_id"]
    event_id = api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant()).json["event_id"]
    drain()
    state = api.get(f"{EVENTS}/{event_id}", **as_merchant()).json["deliveries"][0]
    assert (datetime.fromisoformat(state["next_at"]) - clock.now()).total_seconds() >= 120


def test_410_disables_the_endpoint_and_nothing_is_dropped(api: Api, activated_user: str, receiver: Receiver) -> None:
    receiver.answer = failing(410)
    endpoint = subscribe(api, receiver)["endpoint_id"]
    confirmed_order(api, activated_user)
    drain()
    view = api.get(f"{ENDPOINTS}/{endpoint}", **as_merchant()).json
    assert (view["status"], view["disabled_reason"]) == ("disabled", "gone")
    notes = api.get("/v1/me/notifications", **as_merchant()).json["items"]
    assert [n["kind"] for n in notes] == ["webhook_endpoint_disabled"]
    clock.advance(86400)
    sweep()
    assert len(receiver.received) == 1  # nothing sent while disabled
    receiver.answer = None
    r = api.put(f"{ENDPOINTS}/{endpoint}", {"enabled": True}, **as_merchant())
    assert r.json["status"] == "enabled"
    drain()
    assert [e["type"] for e in receiver.events()] == ["order.confirmed", "order.confirmed"]  # 410, then 200
    assert api.get(EVENTS, **as_merchant()).json["items"][0]["delivery"] == "delivered"


def test_an_endpoint_failing_for_five_days_is_disabled_and_the_merchant_told(api: Api, receiver: Receiver) -> None:
    receiver.answer = failing(503)
    endpoint = subscribe(api, receiver)["endpoint_id"]
    for _ in range(6):
        api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant())
        drain()
        clock.advance(86400)
    view = api.get(f"{ENDPOINTS}/{endpoint}", **as_merchant()).json
    assert (view["status"], view["disabled_reason"]) == ("disabled", "failing")
    notes = api.get("/v1/me/notifications", **as_merchant()).json["items"]
    assert [n["kind"] for n in notes] == ["webhook_endpoint_disabled"]


# --- the log, redelivery, replay ---------------------------------------------------------------


def test_redelivery_sends_the_same_event_again(api: Api, receiver: Receiver) -> None:
    endpoint = subscribe(api, receiver)["endpoint_id"]
    event_id = api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant()).json["event_id"]
    drain()
    assert api.post(f"{EVENTS}/{event_id}/redelivery", **as_merchant()).status_code == 202
    drain()
    assert [d.headers["webhook-id"] for d in receiver.received] == [event_id, event_id]
    view = api.get(f"{EVENTS}/{event_id}", **as_merchant()).json
    assert view["delivery"] == "delivered"
    assert [a["status"] for a in view["attempts"]] == [200, 200]
    assert view["body"]["id"] == event_id


def test_replay_resends_everything_since_a_time(api: Api, receiver: Receiver) -> None:
    endpoint = subscribe(api, receiver)["endpoint_id"]
    api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant())
    clock.advance(3600)
    since = clock.now()
    later = [api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant()).json["event_id"] for _ in range(2)]
    drain()
    r = api.post(f"{ENDPOINTS}/{endpoint}/replay", {"since": since.isoformat()}, **as_merchant())
    assert r.json == {"replayed": 2}
    drain()
    assert [d.headers["webhook-id"] for d in receiver.received[3:]] == sorted(later)


def test_the_log_lists_by_delivery_state(api: Api, receiver: Receiver) -> None:
    endpoint = subscribe(api, receiver)["endpoint_id"]
    ok = api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant()).json["event_id"]
    drain()
    receiver.answer = failing(500)
    bad = api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant()).json["event_id"]
    drain()

    def ids(state: str) -> list[str]:
        return [e["event_id"] for e in api.get(f"{EVENTS}?delivery={state}", **as_merchant()).json["items"]]

    assert (ids("delivered"), ids("pending"), ids("failed")) == ([ok], [bad], [])


def test_a_large_merchants_events_are_sharded_and_the_log_pages_replays_and_finds_them_across_a_count_change(
    api: Api, receiver: Receiver, rules: Any
) -> None:
    from urllib.parse import quote

    rules(merchant_order_shards=f"1,{MERCHANT}=4", merchant_order_shards_previous=f"1,{MERCHANT}=4")
    endpoint = subscribe(api, receiver)["endpoint_id"]

    def ping() -> str:
        clock.advance(1)
        return str(api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant()).json["event_id"])

    since = clock.now()
    made = [ping() for _ in range(6)]
    rules(merchant_order_shards=f"1,{MERCHANT}=8", merchant_order_shards_previous=f"1,{MERCHANT}=4")
    made += [ping() for _ in range(5)]
    drain()
    assert len({e.merchant_key for e in events_of()}) > 1  # several partitions
    assert [e.event_id for e in events_of()] == sorted(made)

    def pages(query: str) -> list[str]:
        out: list[str] = []
        cursor = None
        while True:
            page = api.get(f"{EVENTS}?limit=3{query}" + (f"&cursor={cursor}" if cursor else ""), **as_merchant()).json
            out += [e["event_id"] for e in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return out

    assert pages("") == sorted(made, reverse=True)
    assert pages("&delivery=delivered") == sorted(made, reverse=True)
    assert pages(f"&since={quote(since.isoformat())}") == sorted(made, reverse=True)
    for event_id in made:  # written under 4 shards or 8: found
        assert api.get(f"{EVENTS}/{event_id}", **as_merchant()).json["delivery"] == "delivered"
    r = api.post(f"{ENDPOINTS}/{endpoint}/replay", {"since": since.isoformat()}, **as_merchant())
    assert r.json == {"replayed": len(made)}
    drain()
    assert sorted(d.headers["webhook-id"] for d in receiver.received[len(made) :]) == sorted(made)


# --- where a webhook may go (SSRF) ---------------------------------------------------------------

DEPLOYED = addresses.Policy(local=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # not https
        "https://10.0.0.5/x",
        "https://192.168.1.1/x",
        "https://127.0.0.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://0.0.0.0/x",
        "https://[::1]/x",
        "https://[fe80::1]/x",
        "https://[fd00::1]/x",
        "https://[::]/x",
        "https://[::ffff:10.0.0.1]/x",
        "https://localhost/x",
        "https://user:pw@hooks.example.com/x",
    ],
)
def test_a_url_that_is_not_public_https_is_refused(url: str) -> None:
    from chalicelib import errors

    with pytest.raises(errors.Unprocessable):
        addresses.check_literal(url, DEPLOYED)
        addresses.resolve(url, DEPLOYED, lambda host, port: ["93.184.215.14"])


@pytest.mark.parametrize("answer", [["10.1.2.3"], ["93.184.215.14", "127.0.0.1"], ["fe80::1"], ["fc00::2"], []])
def test_a_name_resolving_inside_is_refused_at_send_time(answer: list[str]) -> None:
    from chalicelib import errors

    addresses.check_literal("https://hooks.example.com/x", DEPLOYED)  # the name passes when saved
    with pytest.raises(errors.Unprocessable):
        addresses.resolve("https://hooks.example.com/x", DEPLOYED, lambda host, port: answer)


def test_dns_rebinding_is_refused_and_nothing_connects(api: Api, receiver: Receiver) -> None:
    """The name resolved outside when saved; at send time it points inside: the attempt fails
    without a connection, and is retried later."""
    created = api.post(ENDPOINTS, {"url": "https://hooks.example.com/x", "events": ["*"]}, **as_merchant())
    assert created.status_code == 201, created.json
    event_id = api.post(f"{ENDPOINTS}/{created.json['endpoint_id']}/test", **as_merchant()).json["event_id"]
    asked: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["10.0.0.7"]

    for record in _queued():
        delivery.handle_batch(record, render, clock.now(), send=delivery.http_send(rebinding))
    assert asked == ["hooks.example.com"]
    view = api.get(f"{EVENTS}/{event_id}", **as_merchant()).json
    assert view["attempts"][0]["status"] == 0
    assert view["attempts"][0]["error"] == "webhook_url_refused"
    assert view["deliveries"][0]["state"] == "pending"


def test_locally_http_to_127_0_0_1_is_allowed_and_nothing_else() -> None:
    from chalicelib import errors

    local = addresses.Policy(local=True)
    assert addresses.resolve("http://127.0.0.1:8700/x", local, lambda h, p: []).address == "127.0.0.1"
    for url in ("http://10.0.0.1/x", "http://hooks.example.com/x", "https://10.0.0.1/x"):
        with pytest.raises(errors.Unprocessable):
            addresses.check_literal(url, local)
            addresses.resolve(url, local, lambda h, p: ["10.0.0.1"])


def _queued() -> list[dict[str, Any]]:
    sqs = worker.sqs()
    url = worker.queue_url(settings().webhook_queue_name)
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [worker.to_lambda_event([m], "arn:aws:sqs:cn-north-1:000000000000:q") for m in msgs]


def test_the_body_is_the_same_json_the_log_shows(api: Api, receiver: Receiver) -> None:
    endpoint = subscribe(api, receiver)["endpoint_id"]
    event_id = api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant()).json["event_id"]
    drain()
    assert json.loads(receiver.received[0].body) == api.get(f"{EVENTS}/{event_id}", **as_merchant()).json["body"]


# --- every event type of today's code ----------------------------------------------------------


def test_an_order_story_emits_its_events_in_sequence(api: Api, activated_user: str, receiver: Receiver) -> None:
    subscribe(api, receiver)
    order = confirmed_order(api, activated_user)
    oid = order["order_id"]
    api.post(f"/v1/merchant/orders/{oid}/messages", {"text": "明天发货"}, **as_merchant())
    ship = {"carrier": "SF", "tracking_number": "SF1234567890"}
    assert api.post(f"/v1/merchant/orders/{oid}/shipment", ship, **as_merchant()).status_code == 200
    assert api.post(f"/v1/orders/{oid}/receipt", as_=activated_user).status_code == 200
    r = api.post(f"/v1/orders/{oid}/return-requests", {"reason": "坏了"}, as_=activated_user)
    assert r.status_code == 201, r.json
    request_id = r.json["request_id"]
    decision = {"decision": "reject", "note": "不支持"}
    assert api.post(f"/v1/merchant/return-requests/{request_id}/decision", decision, **as_merchant()).status_code == 200
    drain()
    got = receiver.events()
    assert [e["type"] for e in got] == [
        "order.confirmed",
        "message.created",
        "order.received",
        "return.requested",
        "return.answered",
    ]
    answered = got[-1]["data"]["object"]
    assert (answered["request_id"], answered["status"], answered["note"]) == (request_id, "rejected", "不支持")
    assert got[1]["data"]["object"]["text"] == "明天发货"
    order_seqs = [
        e["sequence"]
        for e in got
        if e["data"]["object"].get("order_id") == oid
        and "items" in e["data"]["object"]
        and "history" in e["data"]["object"]
    ]
    assert order_seqs == sorted(order_seqs) and len(set(order_seqs)) == len(order_seqs)


def test_a_deleted_endpoint_is_owed_nothing_more(api: Api, receiver: Receiver) -> None:
    receiver.answer = failing(500)
    endpoint = subscribe(api, receiver)["endpoint_id"]
    event_id = api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant()).json["event_id"]
    drain()
    assert api.delete(f"{ENDPOINTS}/{endpoint}", **as_merchant()).status_code == 204
    clock.advance(3600)
    sweep()
    view = api.get(f"{EVENTS}/{event_id}", **as_merchant()).json
    assert (view["deliveries"], len(view["attempts"])) == ([], 1)
    clock.advance(86400)
    assert sweep()["processed"] == 0  # no timer left behind


def test_deployed_a_short_retry_rides_a_delayed_queue_message_and_a_long_one_a_timer(api: Api) -> None:
    from chalicelib.services.webhooks import sender

    created = api.post(ENDPOINTS, {"url": "https://hooks.example.com/x", "events": ["*"]}, **as_merchant()).json
    event_id = api.post(f"{ENDPOINTS}/{created['endpoint_id']}/test", **as_merchant()).json["event_id"]
    cfg = settings()
    object.__setattr__(cfg, "stage", "dev")
    try:
        down = lambda url, body, headers: sender.Answer(503, 3, "busy")  # noqa: E731 - the receiver's answer
        delivery.deliver(MERCHANT, event_id, clock.now(), render, down)  # next try in ~5 s: SQS delay
        delivery.deliver(MERCHANT, event_id, clock.now() + timedelta(seconds=6), render, down)  # ~5 min: SQS
        clock.advance(400)
        delivery.deliver(MERCHANT, event_id, clock.now(), render, down)  # ~30 min: the timer only
    finally:
        object.__setattr__(cfg, "stage", "local")
    attrs = worker.sqs().get_queue_attributes(
        QueueUrl=worker.queue_url(cfg.webhook_queue_name), AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert int(attrs["ApproximateNumberOfMessagesDelayed"]) == 2
    state = api.get(f"{EVENTS}/{event_id}", **as_merchant()).json["deliveries"][0]
    assert state["attempts"] == 3
    from chalicelib import timers

    assert timers.exists(timers.WEBHOOK_DELIVERY, event_id, state["next_at"])


def test_a_purged_event_leaves_no_timer_behind(api: Api, receiver: Receiver) -> None:
    receiver.answer = failing(500)
    endpoint = subscribe(api, receiver)["endpoint_id"]
    event_id = api.post(f"{ENDPOINTS}/{endpoint}/test", **as_merchant()).json["event_id"]
    drain()  # one failed attempt: a retry timer is set
    log.get(MERCHANT, event_id).delete()  # the retention purge of a closed account
    clock.advance(86400)
    assert sweep()["processed"] == 1
    clock.advance(86400)
    assert sweep()["processed"] == 0  # the timer went with its event


def test_the_event_type_schema_lists_every_event_type() -> None:
    """The request schema's enum (schemas know no service) names exactly the types emitted."""
    from chalicelib.schemas.kinds import values
    from chalicelib.schemas.webhooks import WebhookEventType
    from chalicelib.services.webhooks import types

    assert set(values(WebhookEventType)) == {"*", *types.ALL}


# --- replay scope (an outside tester's findings) -----------------------------------------------


def test_replay_to_an_endpoint_skips_events_it_is_not_subscribed_to(
    api: Api, activated_user: str, receiver: Receiver
) -> None:
    subscribe(api, receiver, ["order.confirmed"])
    other = subscribe(api, receiver, ["order.paid"])["endpoint_id"]
    since = clock.now()
    confirmed_order(api, activated_user)
    drain()
    event = api.get(EVENTS, **as_merchant()).json["items"][0]
    assert event["delivery"] == "delivered"
    r = api.post(f"{ENDPOINTS}/{other}/replay", {"since": since.isoformat()}, **as_merchant())
    assert r.json == {"replayed": 0}
    drain()
    assert api.get(f"{EVENTS}/{event['event_id']}", **as_merchant()).json["delivery"] == "delivered"
    assert len(receiver.received) == 1
