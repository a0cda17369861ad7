"""The event log (30 days, with every attempt), redelivery and replay."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from ... import errors, pagination
from ...clock import iso
from ...db import Tx
from ...idempotency import IdemScope
from ...models.webhooks import PENDING, WebhookEvent
from . import event_keys
from .outbox import applied, enqueue, event_id_floor, retime

# Events one replay resends (beyond it, replay again from the last one's time).
REPLAY_MAX = 500
BUSY_TRIES = 3
# Events resent by one transaction (each is its update, its timer's move: 3 items of 100).
RESENDS_PER_TX = 30


class EventBusy(errors.Conflict):
    """An event the delivery worker changed since it was read (its attempt being recorded)."""

    def __init__(self, event_id: str) -> None:
        super().__init__("webhook_event_busy", "the event is being delivered; retry shortly")
        self.event_id = event_id


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


def _resend(tx: Tx, event: WebhookEvent, endpoint_id: str | None, now: datetime) -> WebhookEvent:
    """Make the event due now again for one endpoint (or every one), whatever happened before,
    in `tx`; answers the event as that write leaves it."""
    states: dict[str, dict[str, Any]] = {k: dict(v) for k, v in dict(event.deliveries or {}).items()}
    for key, state in states.items():
        if endpoint_id in (None, key):
            states[key] = {**state, "state": PENDING, "attempts": 0, "next_at": iso(now)}
    actions = [
        WebhookEvent.deliveries.set(states),
        WebhookEvent.delivery.set(PENDING),
        WebhookEvent.version.set(int(event.version or 0) + 1),
        retime(tx, event, iso(now)),
    ]
    tx.update(
        event, actions, condition=WebhookEvent.version == int(event.version or 0), on_fail=EventBusy(event.event_id)
    )
    tx.after_commit(lambda: enqueue(str(event.merchant_id), str(event.event_id)))
    return applied(event, actions)


def redeliver(merchant_id: str, event_id: str, now: datetime, idem: IdemScope | None = None) -> WebhookEvent:
    """Send one event again to every endpoint it is for (with the same `webhook-id`)."""
    tx = Tx()
    resent = _resend(tx, get(merchant_id, event_id), None, now)
    if idem is not None:
        idem.stage(tx, resent)
    tx.commit()
    return resent


# What each resending transaction is conditioned on (e.g. that the endpoint still exists).
Check = Callable[[Tx], None]


def replay(
    merchant_id: str,
    endpoint_id: str | None,
    since: datetime,
    now: datetime,
    idem: IdemScope | None = None,
    check: Check | None = None,
) -> int:
    """Send every event since `since` again (to one endpoint, or all); returns how many. `check`
    adds its condition to each transaction (nothing is sent when it fails)."""
    floor = event_id_floor(since)

    def shard(key: str) -> Iterator[WebhookEvent]:
        return iter(WebhookEvent.query(key, WebhookEvent.event_id >= floor, page_size=REPLAY_MAX))

    events = [
        e
        for e in event_keys.merged(merchant_id, shard, newest_first=False, limit=REPLAY_MAX)
        if e.only_endpoint in (None, endpoint_id)
        # an event this endpoint is not subscribed to: nothing to send again
        and (endpoint_id is None or endpoint_id in dict(e.deliveries or {}))
    ]
    chunks = [events[i : i + RESENDS_PER_TX] for i in range(0, len(events), RESENDS_PER_TX)] or [[]]
    for n, chunk in enumerate(chunks):
        last = n == len(chunks) - 1
        _resend_all(merchant_id, endpoint_id, chunk, now, idem if last else None, len(events), check)
    return len(events)


def _resend_all(
    merchant_id: str,
    endpoint_id: str | None,
    events: list[WebhookEvent],
    now: datetime,
    idem: IdemScope | None,
    answer: int,
    check: Check | None,
) -> None:
    """One transaction for `events` (and the answer, in the last one). An event the worker is
    recording an attempt on is read again and retried; one still busy after BUSY_TRIES is left
    out (it is being sent right now)."""
    if not events and idem is None and check is None:
        return  # nothing to send, nothing to answer or check
    tries: dict[str, int] = {}
    while True:
        tx = Tx()
        if check is not None:
            check(tx)
        for event in events:
            _resend(tx, event, endpoint_id, now)
        if idem is not None:
            idem.stage(tx, answer)
        try:
            tx.commit()
            return
        except EventBusy as busy:
            tries[busy.event_id] = tries.get(busy.event_id, 0) + 1
            kept = [e for e in events if e.event_id != busy.event_id]
            if tries[busy.event_id] < BUSY_TRIES:
                kept.append(get(merchant_id, busy.event_id))
            events = kept
