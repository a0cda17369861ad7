"""Notifications for users: written in the transaction of the event they tell about.

One notification per event id (a replayed event cannot notify twice). In the cloud, an
SNS topic (`NOTIFICATION_TOPIC_ARN`, optional) fans each one out to mobile push after
the transaction commits; locally they are only stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import UpdateError

from .. import errors, pagination
from ..clock import iso
from ..config import settings
from ..db import Tx, condition_failed
from ..models.notifications import Notification as Notification
from ..observability import logger

if TYPE_CHECKING:
    from ..idempotency import IdemScope

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
# How many notifications one transaction marks read (moto's limit on a transaction's items;
# DynamoDB's is 100), and how many unread ones "mark all read" reads per round.
READ_BATCH = 25
UNREAD_PAGE = 100
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
    return int(Notification.count(user_id, index_name=Notification.unread.Meta.index_name, consistent_read=True))


def list_for(user_id: str, limit: int, cursor: str | None) -> NotificationPage:
    """The user's notifications, newest first, with the unread count.

    A first page that is also the last holds every notification: it counts the unread among
    them (one Query). Any other page counts them with a second one (the unread index)."""
    scope = f"notifications:{user_id}"
    result = Notification.by_time.query(
        user_id, limit=limit, last_evaluated_key=pagination.decode(cursor, scope), scan_index_forward=False
    )
    items = list(result)
    if cursor is None and result.last_evaluated_key is None:
        unread = sum(1 for n in items if n.unread_key is not None)
    else:
        unread = unread_count(user_id)
    return NotificationPage(items, pagination.encode(result.last_evaluated_key, scope), unread)


@dataclass(frozen=True)
class Marked:
    marked: int
    unread_count: int


# Another reader marked one of a transaction's notifications first (caught: never on a route).
_OVERLAPPED = "notifications_overlapped"
UNDOCUMENTED_ERRORS = errors.raises(conflict=[_OVERLAPPED])


def mark_read(
    user_id: str, notification_ids: Sequence[str] | None, now: datetime, idem: IdemScope | None = None
) -> Marked:
    """Mark the given notifications (or all, when None) read; answers how many changed and
    how many stay unread, as the write left them (`idem` stages that answer in its last
    transaction: no read after the write).

    All: one query of the unread index finds up to UNREAD_PAGE of them (the answer's unread
    count is 0: none is left of what the query saw). Named: one BatchGet of the ids and one
    count of the unread before. Then a transaction per READ_BATCH; one another reader
    overlapped falls back to conditional updates one by one, so each notification is
    counted once (and the unread count is counted again).
    """
    if notification_ids is None:
        marked = 0
        while True:
            query = Notification.unread.query(user_id, limit=UNREAD_PAGE, consistent_read=True)
            batch = [n.notification_id for n in query]
            if len(batch) < UNREAD_PAGE:
                return _mark_all_of(user_id, batch, now, idem, lambda m, _exact: Marked(m, 0), marked)
            marked += _mark_all_of(user_id, batch, now, None, lambda m, _exact: Marked(m, 0)).marked
    ids = list(dict.fromkeys(notification_ids))
    keys = [(user_id, nid) for nid in ids]
    found = {n.notification_id: n for n in Notification.batch_get(keys, consistent_read=True)}
    if len(found) < len(ids):
        raise errors.not_found("notification_not_found", "no such notification")
    unread = [nid for nid in ids if found[nid].unread_key is not None]
    before = unread_count(user_id)

    def answer(marked: int, exact: bool) -> Marked:
        return Marked(marked, before - marked if exact else unread_count(user_id))

    return _mark_all_of(user_id, unread, now, idem, answer)


def _mark_all_of(
    user_id: str,
    ids: Sequence[str],
    now: datetime,
    idem: IdemScope | None,
    answer: Callable[[int, bool], Marked],
    marked: int = 0,
) -> Marked:
    """Mark `ids` read, READ_BATCH a transaction, the last one staging `idem`'s answer;
    `answer(marked, exact)`: exact when no other reader overlapped these transactions."""
    size = READ_BATCH - 1 if idem is not None else READ_BATCH  # the last one holds the key's record
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    exact = True
    for i, chunk in enumerate(chunks):
        tx = _marking(user_id, chunk, now)
        staged = None
        if idem is not None and exact and i == len(chunks) - 1:
            staged = answer(marked + len(chunk), True)
            idem.stage(tx, staged)
        try:
            tx.commit()
            marked += len(chunk)
        except errors.DomainError as err:
            if err.code != _OVERLAPPED:
                raise  # the Idempotency-Key was used first, among others
            marked, exact = marked + _mark_each(user_id, chunk, now), False
        else:
            if staged is not None:
                return staged
    result = answer(marked, exact)
    if idem is not None and chunks:  # its last transaction overlapped: the answer is staged alone
        tx = Tx()
        idem.stage(tx, result)
        tx.commit()
    return result


def _marking(user_id: str, ids: Sequence[str], now: datetime) -> Tx:
    tx = Tx()
    for nid in ids:
        tx.update(
            Notification(user_id, nid),
            [Notification.read_at.set(iso(now)), Notification.unread_key.remove()],
            condition=Notification.unread_key.exists(),
            on_fail=errors.conflict(_OVERLAPPED, "another request marked it first"),
        )
    return tx


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
