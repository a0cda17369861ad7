"""Replay to one endpoint touches only the events that endpoint is for (an independent
tester's findings on the third release)."""

from __future__ import annotations

from chalicelib.clock import clock
from scripts.webhook_receiver import Receiver
from tests.api.test_webhooks import ENDPOINTS, EVENTS, as_merchant, confirmed_order, drain, receiver, subscribe
from tests.conftest import Api

__all__ = ["receiver"]  # the fixture


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
