"""The outbox: an event rides in the transaction of the change it reports.

`emit(tx, merchant_id, event_type, obj, now)` adds the event item and its delivery timer
to `tx`: no DynamoDB call of its own, no event for a change that did not commit, no change
without its event. Once `tx` commits, a queue message asks the delivery worker to send it
now; the timer (due a grace period later) is the safety net if that message is lost.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pynamodb.expressions.operand import Value
from pynamodb.expressions.update import Action, RemoveAction, SetAction
from pynamodb.models import Model

from ... import queues, timers
from ...clock import iso, parse_iso
from ...config import settings
from ...db import Tx
from ...models.timers import Timer
from ...models.webhooks import WebhookEvent
from ...observability import logger
from . import event_keys, types

M = TypeVar("M", bound=Model)

# Events live this long (the log, redelivery and replay reach back as far).
RETENTION = timedelta(days=30)
# The timer that sends an event if its after-commit queue message was lost.
SAFETY_NET = timedelta(seconds=60)


def new_event_id(now: datetime) -> str:
    """Sortable by creation time (the replay's `since` is a key range)."""
    return f"evt_{now.strftime('%Y%m%d%H%M%S%f')}{secrets.token_hex(6)}"


def event_id_floor(since: datetime) -> str:
    return f"evt_{since.strftime('%Y%m%d%H%M%S%f')}"


def sequence_of(obj: Model | dict[str, Any], event_type: str, now: datetime) -> int:
    """Grows per object: an order's transitions count (each one is a conditional write on the
    last), else the microsecond of the change (each change is made after the previous one)
    and the type's place in the object's life (two changes in one instant of a moved clock)."""
    history = obj.get("history") if isinstance(obj, dict) else getattr(obj, "history", None)
    if isinstance(history, list) and history:
        return len(history)
    return int(now.timestamp() * 1_000_000) * 16 + types.RANK.get(event_type, 0)


def snapshot_of(obj: Model | dict[str, Any]) -> dict[str, Any]:
    if isinstance(obj, dict):
        return {"plain": obj}
    return {"item": obj.serialize()}


def applied(obj: M, actions: Sequence[Action]) -> M:
    """A copy of `obj` as it will be once `actions` (literal SETs and REMOVEs) are written."""
    copy = type(obj).from_raw_data(obj.serialize())
    attrs = {a.attr_name: (name, a) for name, a in type(obj).get_attributes().items()}
    for action in actions:
        path = action.values[0]
        found = attrs.get(getattr(path, "path", [""])[0])
        if found is None:
            continue
        name, attr = found
        if isinstance(action, RemoveAction):
            setattr(copy, name, None)
        elif isinstance(action, SetAction) and isinstance(action.values[1], Value):
            raw = action.values[1].value
            setattr(copy, name, None if "NULL" in raw else attr.deserialize(attr.get_value(raw)))
    return copy


def emit(
    tx: Tx,
    merchant_id: str,
    event_type: str,
    obj: Model | dict[str, Any],
    now: datetime,
    *,
    actions: Sequence[Action] = (),
    only_endpoint: str | None = None,
) -> str:
    """Add the event `event_type` about `obj` (as it is after this change) to `tx`.

    `actions` are the change's updates of `obj` not yet applied to it in memory. Returns the
    event id. Call it from any service, beside the change, before `tx.commit()`.
    """
    if event_type not in types.ALL and event_type != types.PING:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if actions and not isinstance(obj, dict):
        obj = applied(obj, actions)
    kind, object_id = types.identity(obj)
    event_id = new_event_id(now)
    tx.save(
        WebhookEvent(
            event_keys.key_of(merchant_id, event_id),
            event_id,
            merchant_id=merchant_id,
            type=event_type,
            object_kind=kind,
            object_id=object_id,
            order_id=types.order_of(obj),
            sequence=sequence_of(obj, event_type, now),
            created_at=iso(now),
            snapshot=snapshot_of(obj),
            only_endpoint=only_endpoint,
            deliveries={},
            attempts=[],
            expires_at=now + RETENTION,
            timer_at=iso(now + SAFETY_NET),
        ),
        condition=WebhookEvent.event_id.does_not_exist(),
    )
    timers.schedule(tx, timers.WEBHOOK_DELIVERY, event_id, now + SAFETY_NET, {"merchant_id": merchant_id})
    tx.after_commit(lambda: enqueue(merchant_id, event_id))
    return event_id


def retime(tx: Tx, event: WebhookEvent, at: str | None, taken: Timer | None = None) -> Action:
    """Move the event's one timer to `at` (None: no timer) in `tx`, claiming `taken` (the timer
    a sweep acts on). Returns the update of the event's `timer_at`."""
    old = str(event.timer_at) if event.timer_at else None
    kept = {at}
    if taken is not None and taken.due_at not in kept:
        timers.take(tx, taken)
    if old is not None and old not in kept and (taken is None or taken.due_at != old):
        timers.cancel(tx, timers.WEBHOOK_DELIVERY, event.event_id, old)
    if at is not None and at != old and (taken is None or taken.due_at != at):
        timers.schedule(tx, timers.WEBHOOK_DELIVERY, event.event_id, parse_iso(at), {"merchant_id": event.merchant_id})
    return WebhookEvent.timer_at.set(at) if at is not None else WebhookEvent.timer_at.remove()


def enqueue(merchant_id: str, event_id: str, delay_seconds: int = 0) -> None:
    """Ask the delivery worker to look at an event (best effort: its timer is the safety net)."""
    try:
        queues.send(settings().webhook_queue_name, {"merchant_id": merchant_id, "event_id": event_id}, delay_seconds)
    except Exception as exc:  # noqa: BLE001 - the timer sends it later
        logger.warning("webhook enqueue failed", extra={"error": type(exc).__name__, "event_id": event_id})
