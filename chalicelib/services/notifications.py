"""Notifications for users: written in the transaction of the event they tell about.

One notification per event id (a replayed event cannot notify twice). In the cloud, an
SNS topic (`NOTIFICATION_TOPIC_ARN`, optional) fans each one out to mobile push after
the transaction commits; locally they are only stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from pynamodb.exceptions import UpdateError

from .. import errors, pagination
from ..clock import iso
from ..config import settings
from ..db import Tx, condition_failed
from ..models.notifications import Notification as Notification
from ..observability import logger

# Kinds the app can switch on.
PAYMENT_SUCCEEDED = "payment_succeeded"
PAYMENT_FAILED = "payment_failed"
PAYMENT_REFUNDED = "payment_refunded"
PAYMENT_OVERDUE = "payment_overdue"  # a collection charge was declined: the order is overdue
RISK_DECIDED = "risk_decided"  # to the buyer: a 先用后付 order held for review was placed or declined
PAYMENT_DUE_SOON = "payment_due_soon"  # the reminder before a 先用后付 window closes
ORDER_MESSAGE = "order_message"  # the other side wrote about an order (services/messages.py)
DISPUTE_OPENED = "dispute_opened"  # the buyer escalated (services/aftersale/disputes.py)
DISPUTE_DECIDED = "dispute_decided"  # support decided: both sides hear it
ORDER_SHIPPED = "order_shipped"  # the merchant shipped: carrier and tracking number
RETURN_REQUESTED = "return_requested"  # to the merchant: answer within AFTERSALE_ANSWER_SECONDS
RETURN_ANSWERED = "return_answered"  # to the buyer: approved (by the merchant or the timer) or rejected
RETURN_SHIPPED_BACK = "return_shipped_back"  # to the merchant: the goods are on their way back
REPLACEMENT_SHIPPED = "replacement_shipped"  # to the buyer: an exchange's replacement left
RETURN_COMPLETED = "return_completed"  # to the buyer: a 先用后付 return settled, credit released
# How many unread notifications "mark all read" fetches per round.
READ_BATCH = 25
READ_ERRORS = errors.raises(not_found=["notification_not_found"])
NOTIFY_ERRORS = errors.raises(conflict=["already_notified"])  # once per event: a repeat is a no-op


def notification_id(event_id: str) -> str:
    return "n_" + hashlib.sha256(event_id.encode()).hexdigest()[:24]


def notify(
    tx: Tx, user_id: str, kind: str, title: str, body: str, ref: str | None, event_id: str, now: datetime
) -> None:
    """Add a notification to `tx`; the same event id never notifies twice.

    The caller's event is itself once-only, so a duplicate here means the caller's whole
    transaction is a replay and fails on its own conditions too.
    """
    nid = notification_id(event_id)
    created_key = f"{iso(now)}#{nid}"
    tx.save(
        Notification(
            user_id,
            nid,
            created_key=created_key,
            unread_key=created_key,
            kind=kind,
            title=title,
            body=body,
            ref=ref,
            event_id=event_id,
            created_at=iso(now),
        ),
        condition=Notification.notification_id.does_not_exist(),
        on_fail=errors.moved("already_notified", f"event {event_id} was already notified"),
        guard=True,
    )
    if settings().notification_topic_arn:
        tx.after_commit(lambda: _publish(user_id, nid, kind, title, body, ref))


@lru_cache(maxsize=1)
def _sns() -> Any:
    import boto3

    return boto3.client("sns", region_name=settings().region)


def _publish(user_id: str, nid: str, kind: str, title: str, body: str, ref: str | None) -> None:
    """Fan out to mobile push; subscribers filter on `user_id` and `kind`."""
    _sns().publish(
        TopicArn=settings().notification_topic_arn,
        Message=json.dumps(
            {"notification_id": nid, "user_id": user_id, "kind": kind, "title": title, "body": body, "ref": ref},
            ensure_ascii=False,
        ),
        MessageAttributes={
            "user_id": {"DataType": "String", "StringValue": user_id},
            "kind": {"DataType": "String", "StringValue": kind},
        },
    )
    logger.info("notification published", extra={"notification_id": nid, "kind": kind})


@dataclass(frozen=True)
class NotificationPage:
    items: list[Notification]
    next_cursor: str | None
    unread_count: int


def unread_count(user_id: str) -> int:
    # The unread index is sparse: counting it reads only unread notifications.
    return int(Notification.count(user_id, index_name=Notification.unread.Meta.index_name))


def list_for(user_id: str, limit: int, cursor: str | None) -> NotificationPage:
    """The user's notifications, newest first, with the unread count."""
    scope = f"notifications:{user_id}"
    result = Notification.by_time.query(
        user_id, limit=limit, last_evaluated_key=pagination.decode(cursor, scope), scan_index_forward=False
    )
    items = list(result)
    return NotificationPage(items, pagination.encode(result.last_evaluated_key, scope), unread_count(user_id))


def mark_read(user_id: str, notification_ids: Sequence[str] | None, now: datetime) -> int:
    """Mark the given notifications (or all, when None) read; answers how many changed.

    A round is one read (the unread index, or one BatchGet of the named ids) and one
    transaction marking what it found; a round another reader overlapped falls back to
    conditional updates one by one, so each notification is counted once.
    """
    if notification_ids is None:
        changed = 0
        while True:
            batch = [n.notification_id for n in Notification.unread.query(user_id, limit=READ_BATCH)]
            changed += _mark(user_id, batch, now)
            if len(batch) < READ_BATCH:
                return changed
    ids = list(dict.fromkeys(notification_ids))
    found = {n.notification_id: n for n in Notification.batch_get([(user_id, nid) for nid in ids])}
    if len(found) < len(ids):
        raise errors.not_found("notification_not_found", "no such notification")
    unread = [nid for nid in ids if found[nid].unread_key is not None]
    return sum(_mark(user_id, unread[i : i + READ_BATCH], now) for i in range(0, len(unread), READ_BATCH))


def _mark(user_id: str, ids: Sequence[str], now: datetime) -> int:
    if not ids:
        return 0
    tx = Tx()
    for nid in ids:
        tx.update(
            Notification(user_id, nid),
            [Notification.read_at.set(iso(now)), Notification.unread_key.remove()],
            condition=Notification.unread_key.exists(),
        )
    try:
        tx.commit()
        return len(ids)
    except errors.DomainError:  # another reader marked one of them first: one by one
        return _mark_each(user_id, ids, now)


def _mark_each(user_id: str, ids: Sequence[str], now: datetime) -> int:
    changed = 0
    for nid in ids:
        try:
            Notification(user_id, nid).update(
                actions=[Notification.read_at.set(iso(now)), Notification.unread_key.remove()],
                condition=Notification.unread_key.exists(),
            )
            changed += 1
        except UpdateError as exc:
            if not condition_failed(exc):  # already read: nothing to change
                raise
    return changed
