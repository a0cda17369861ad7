"""After-sale records: return requests, refunds owed through a channel, and reviews."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from ..db import table_meta

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"


class ReturnsByMerchant(GlobalSecondaryIndex["ReturnRequest"]):
    class Meta:
        index_name = "by_merchant"
        projection = AllProjection()

    merchant_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class ReturnsByUser(GlobalSecondaryIndex["ReturnRequest"]):
    """A consumer's return requests (their data export, account closure)."""

    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class ReturnRequest(Model):
    Meta = table_meta("return_requests")

    request_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    created_key = UnicodeAttribute()
    status = UnicodeAttribute(default=PENDING)
    reason = UnicodeAttribute()
    items = JSONAttribute()  # [{sku_id, quantity, amount_fen}]
    amount_fen = NumberAttribute()
    order_status_before = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    decided_at = UnicodeAttribute(null=True)

    by_merchant = ReturnsByMerchant()
    by_user = ReturnsByUser()


class Refund(Model):
    """Money owed back to the consumer through the channel that paid; a channel adapter
    carries it out (timer kind `refund`)."""

    Meta = table_meta("refunds")

    refund_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    channel = UnicodeAttribute()
    amount_fen = NumberAttribute()
    status = UnicodeAttribute(default=PENDING)  # pending → succeeded | failed
    created_at = UnicodeAttribute()
    settled_at = UnicodeAttribute(null=True)


class Review(Model):
    Meta = table_meta("reviews")

    product_id = UnicodeAttribute(hash_key=True)
    review_key = UnicodeAttribute(range_key=True)  # "<order_id>#<sku_id>": once per order item
    order_id = UnicodeAttribute()
    sku_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    rating = NumberAttribute()
    text = UnicodeAttribute()
    created_at = UnicodeAttribute()
