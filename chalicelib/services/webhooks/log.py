"""The event log (30 days, with every attempt), redelivery and replay."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from ... import errors, pagination
from ...clock import iso
from ...db import Tx
from ...models.webhooks import PENDING, WebhookEvent
from . import event_keys
from .outbox import enqueue, event_id_floor, retime

# Events one replay resends (beyond it, replay again from the last one's time).
REPLAY_MAX = 500
BUSY_TRIES = 3


@dataclass(frozen=True)
class EventPage:
    items: list[WebhookEvent]
    next_cursor: str | None


def record_of(kind: str, item: dict[str, Any]) -> Model:
    """The record an event's snapshot was taken from (`types.OBJECTS` names the kinds)."""
    from ...models.aftersale import Dispute, ReturnRequest
    from ...models.messages import OrderMessage
    from ...models.orders import Order
    from ...models.payouts import Payout

    records: dict[str, type[Model]] = {
        "order": Order,
        "return_request": ReturnRequest,
        "dispute": Dispute,
        "message": OrderMessage,
        "payout": Payout,
    }
    if kind not in records:
        raise ValueError(f"no record for {kind!r}")
    return records[kind].from_raw_data(item)


def event_not_found() -> errors.DomainError:
    return errors.not_found("webhook_event_not_found", "no such webhook event")


NOT_FOUND_ERRORS = errors.raises(not_found=["webhook_event_not_found"])
REDELIVER_ERRORS = NOT_FOUND_ERRORS | errors.raises(conflict=["webhook_event_busy"])


def get(merchant_id: str, event_id: str) -> WebhookEvent:
    event = event_keys.find(merchant_id, event_id)
    if event is None:
        raise event_not_found()
    return event


def events(merchant_id: str, delivery: str | None, since: datetime | None, limit: int, cursor: str | None) -> EventPage:
    """The merchant's events, newest first; `delivery` narrows to one state. The cursor is the
    last event's id: every shard is read from below it and merged (event_keys.py)."""
    scope = f"webhook-events:{merchant_id}:{delivery or '*'}:{iso(since) if since else '*'}"
    after = (pagination.decode(cursor, scope) or {}).get("event_id")
    if after is not None and not isinstance(after, str):
        after = None
    span: Condition | None
    if after and since:
        span = WebhookEvent.event_id.between(event_id_floor(since), after)  # `after` itself dropped below
    elif after:
        span = WebhookEvent.event_id < after
    else:
        span = WebhookEvent.event_id >= event_id_floor(since) if since else None

    def shard(key: str) -> Iterator[WebhookEvent]:
        found = WebhookEvent.query(
            key,
            span,
            filter_condition=(WebhookEvent.delivery == delivery) if delivery else None,
            scan_index_forward=False,
            page_size=limit,
        )
        return (e for e in found if e.event_id != after)

    items = event_keys.merged(merchant_id, shard, newest_first=True, limit=limit)
    last = {"event_id": items[-1].event_id} if len(items) == limit else None
    return EventPage(items, pagination.encode(last, scope))


def _resend(event: WebhookEvent, endpoint_id: str | None, now: datetime) -> None:
    """Make the event due now again for one endpoint (or every one), whatever happened before."""
    states: dict[str, dict[str, Any]] = {k: dict(v) for k, v in dict(event.deliveries or {}).items()}
    for key, state in states.items():
        if endpoint_id in (None, key):
            states[key] = {**state, "state": PENDING, "attempts": 0, "next_at": iso(now)}
    tx = Tx()
    tx.update(
        event,
        [
            WebhookEvent.deliveries.set(states),
            WebhookEvent.delivery.set(PENDING),
            WebhookEvent.version.set(int(event.version or 0) + 1),
            retime(tx, event, iso(now)),
        ],
        condition=WebhookEvent.version == int(event.version or 0),
        on_fail=errors.conflict("webhook_event_busy", "the event is being delivered; retry shortly"),
    )
    tx.after_commit(lambda: enqueue(str(event.merchant_id), str(event.event_id)))
    tx.commit()


def redeliver(merchant_id: str, event_id: str, now: datetime) -> WebhookEvent:
    """Send one event again to every endpoint it is for (with the same `webhook-id`)."""
    event = get(merchant_id, event_id)
    _resend(event, None, now)
    return get(merchant_id, event_id)


def replay(merchant_id: str, endpoint_id: str | None, since: datetime, now: datetime) -> int:
    """Send every event since `since` again (to one endpoint, or all); returns how many."""
    found = 0
    floor = event_id_floor(since)

    def shard(key: str) -> Iterator[WebhookEvent]:
        return iter(WebhookEvent.query(key, WebhookEvent.event_id >= floor, page_size=REPLAY_MAX))

    for event in event_keys.merged(merchant_id, shard, newest_first=False, limit=REPLAY_MAX):
        if event.only_endpoint not in (None, endpoint_id):
            continue
        if endpoint_id is not None and endpoint_id not in dict(event.deliveries or {}):
            continue  # an event this endpoint is not subscribed to: nothing to send again
        for _ in range(BUSY_TRIES):  # the worker may be recording an attempt right now
            try:
                _resend(event, endpoint_id, now)
                break
            except errors.Conflict:
                event = get(merchant_id, event.event_id)
        found += 1
    return found
