"""The user's notifications: payment results, reminders, refunds, redemptions."""

from __future__ import annotations

from ..clock import clock
from ..schemas.payments import MarkReadIn, MarkReadView, NotificationPageView, NotificationQuery, NotificationView
from ..services import notifications
from ..web import Ctx, Router

router = Router("notifications")
# Merchants are told of buyers' messages (services/messages.py).
CONSUMER_OR_MERCHANT = ("consumer", "merchant")


def notification_view(n: notifications.Notification) -> NotificationView:
    return NotificationView(
        notification_id=n.notification_id,
        kind=n.kind,
        title=n.title,
        body=n.body,
        ref=n.ref,
        created_at=n.created_at,
        read=n.read_at is not None,
        read_at=n.read_at,
    )


@router.route(
    "/v1/me/notifications", "GET", roles=CONSUMER_OR_MERCHANT, query=NotificationQuery, response=NotificationPageView
)
def list_notifications(ctx: Ctx) -> NotificationPageView:
    """The caller's notifications, newest first, with the unread count."""
    q: NotificationQuery = ctx.query
    page = notifications.list_for(ctx.user_id, q.limit, q.cursor)
    return NotificationPageView(
        items=[notification_view(n) for n in page.items], next_cursor=page.next_cursor, unread_count=page.unread_count
    )


@router.route(
    "/v1/me/notifications/read",
    "POST",
    roles=CONSUMER_OR_MERCHANT,
    body=MarkReadIn,
    response=MarkReadView,
    errors=notifications.READ_ERRORS,
    claim_in_tx=True,
    render=lambda done: MarkReadView(marked=done.marked, unread_count=done.unread_count),
)
def mark_notifications_read(ctx: Ctx) -> notifications.Marked:
    """Mark notifications read: `{"notification_ids": [...]}` or `{"all": true}` (beside SPEC's contract)."""
    body: MarkReadIn = ctx.body
    ids = None if body.all else body.notification_ids
    return notifications.mark_read(ctx.user_id, ids, clock.now(), idem=ctx.idem)
