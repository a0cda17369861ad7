"""Order messages: the consumer ↔ merchant conversation about one order (联系商家客服)."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from ..db import table_meta

CONSUMER = "consumer"
MERCHANT = "merchant"
MAX_TEXT = 1000  # a message's characters (the request schema and the service both hold it)


class OrderMessage(Model):
    """Keyed by order, sorted by time: a thread reads with one Query."""

    Meta = table_meta("order_messages")

    order_id = UnicodeAttribute(hash_key=True)
    message_key = UnicodeAttribute(range_key=True)  # "<created_at>#<message_id>"
    message_id = UnicodeAttribute()
    user_id = UnicodeAttribute()  # the order's consumer: whose personal data this is
    author = UnicodeAttribute()  # consumer | merchant
    author_id = UnicodeAttribute()
    text = UnicodeAttribute()  # as sent (control characters removed); escaped when shown
    created_at = UnicodeAttribute()
