"""Merchant webhooks: endpoints (with a per-merchant count item) and the event outbox."""

from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from ..db import table_meta

ENABLED = "enabled"
DISABLED = "disabled"

# The item of a merchant's endpoint partition that counts its endpoints (create and delete
# change it in their transaction, so the limit holds under concurrent creates).
COUNT_ID = "#count"

# An event's delivery state, over its endpoints.
PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
DELIVERY_STATES = (PENDING, DELIVERED, FAILED)


class PreviousSecret(MapAttribute[str, str]):
    """A rolled secret, still signing until its own `expires_at`."""

    secret = UnicodeAttribute()  # encrypted, like the current one
    expires_at = UnicodeAttribute()

    @classmethod
    def of(cls, secret: str, expires_at: str) -> PreviousSecret:
        return cls(secret=secret, expires_at=expires_at)


class WebhookEndpoint(Model):
    Meta = table_meta("webhook-endpoints")

    merchant_id = UnicodeAttribute(hash_key=True)
    endpoint_id = UnicodeAttribute(range_key=True)
    endpoint_count = NumberAttribute(null=True)  # the COUNT_ID item only
    url = UnicodeAttribute(null=True)
    events = ListAttribute[str](null=True)
    description = UnicodeAttribute(null=True)
    secret = UnicodeAttribute(null=True)  # "whsec_..." (signs every delivery)
    # every rolled secret still signing (at most `max_previous_secrets`), each until its expiry
    previous_secrets = ListAttribute[PreviousSecret](of=PreviousSecret, null=True)
    previous_secret = UnicodeAttribute(null=True)  # before several were kept: one, until previous_expires_at
    previous_expires_at = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)  # enabled | disabled
    disabled_reason = UnicodeAttribute(null=True)  # gone (410) | failing | merchant
    disabled_at = UnicodeAttribute(null=True)
    failing_since = UnicodeAttribute(null=True)  # first failure of the current failing streak
    created_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)


class EventsByOrder(GlobalSecondaryIndex["WebhookEvent"]):
    """The events about one order and its returns, disputes and messages: what an account
    closure erases (addresses, message text) and its retention purge deletes, by key."""

    class Meta:
        index_name = "by_order"
        projection = AllProjection()

    order_id = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)


class WebhookEvent(Model):
    """One event (the outbox row), written in the transaction of the change it reports.

    `snapshot` is the object as stored at that moment; the merchant API's view of it is
    rendered from it for every delivery, so every retry sends the same body. It is a copy of
    the consumer's personal data (the shipping address, message text): `order_id` indexes it
    so closure erases the copy with the original (services/privacy.py).
    """

    Meta = table_meta("webhook-events")

    # "<merchant_id>#<shard>": a very large merchant's events spread over several partitions
    # (services/webhooks/event_keys.py, the counts of MERCHANT_ORDER_SHARDS)
    merchant_key = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)  # "evt_<UTC time><random>": sorts by time
    merchant_id = UnicodeAttribute()
    type = UnicodeAttribute()
    object_kind = UnicodeAttribute()  # order | return_request | dispute | message | payout | ping
    object_id = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)  # the order it is about (none for payouts and pings)
    sequence = NumberAttribute()
    created_at = UnicodeAttribute()
    snapshot = JSONAttribute()
    only_endpoint = UnicodeAttribute(null=True)  # a test ping goes to one endpoint
    delivery = UnicodeAttribute(default=PENDING)  # pending | delivered | failed
    # endpoint_id -> {"state", "attempts", "next_at"}: what each endpoint still needs
    deliveries = JSONAttribute(default=dict)
    # [{"endpoint_id", "at", "status", "latency_ms", "answer", "error"?}], newest last
    attempts = JSONAttribute(default=list)
    version = NumberAttribute(default=0)
    timer_at = UnicodeAttribute(null=True)  # when its one `webhook_delivery` timer is due
    expires_at = TTLAttribute()

    by_order = EventsByOrder()
