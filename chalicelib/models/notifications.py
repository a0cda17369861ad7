"""Notifications for users: one item per event, newest first, with a sparse unread index."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.indexes import AllProjection, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

from ..db import table_meta


class NotificationsByTime(LocalSecondaryIndex["Notification"]):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class UnreadNotifications(LocalSecondaryIndex["Notification"]):
    """Only unread notifications carry `unread_key`: counting them reads only those."""

    class Meta:
        index_name = "unread"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True)
    unread_key = UnicodeAttribute(range_key=True)


class Notification(Model):
    Meta = table_meta("notifications")

    user_id = UnicodeAttribute(hash_key=True)
    notification_id = UnicodeAttribute(range_key=True)  # derived from the event id: one per event
    created_key = UnicodeAttribute()  # "<created_at>#<notification_id>"
    unread_key = UnicodeAttribute(null=True)  # = created_key while unread, removed when read
    kind = UnicodeAttribute()
    title = UnicodeAttribute()
    body = UnicodeAttribute()
    ref = UnicodeAttribute(null=True)  # the order / redemption it is about
    event_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    read_at = UnicodeAttribute(null=True)

    by_time = NotificationsByTime()
    unread = UnreadNotifications()
