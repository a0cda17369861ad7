"""After-sale records: return requests, refunds owed through a channel, and reviews."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from ..db import table_meta

PENDING = "pending"
APPROVED = "approved"  # refund_only: approved and refunded (or credit released) at once
REJECTED = "rejected"
# return_goods: approved → awaiting_return → (shipped back) returning → (arrived) refunded;
# awaiting_return → closed when nothing was shipped back in time.
AWAITING_RETURN = "awaiting_return"
RETURNING = "returning"
REFUNDED = "refunded"
CLOSED = "closed"
DISPUTED = "disputed"  # escalated to the platform (平台介入); support's decision ends it
# exchange: … returning → (arrived: stock moved) awaiting_reshipment → reshipped → (received) exchanged.
AWAITING_RESHIPMENT = "awaiting_reshipment"
RESHIPPED = "reshipped"
EXCHANGED = "exchanged"
STATUSES = (
    PENDING,
    APPROVED,
    REJECTED,
    AWAITING_RETURN,
    RETURNING,
    REFUNDED,
    CLOSED,
    DISPUTED,
    AWAITING_RESHIPMENT,
    RESHIPPED,
    EXCHANGED,
)
OPEN = (PENDING, AWAITING_RETURN, RETURNING, DISPUTED, AWAITING_RESHIPMENT, RESHIPPED)

REFUND_ONLY = "refund_only"
RETURN_GOODS = "return_goods"
EXCHANGE = "exchange"
KINDS = (REFUND_ONLY, RETURN_GOODS, EXCHANGE)


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
    items = JSONAttribute()  # [{sku_id, quantity, amount_fen, to_sku_id?}] (to_sku_id: exchange)
    amount_fen = NumberAttribute()
    order_status_before = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    decided_at = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(default=REFUND_ONLY)
    # return_goods: the consumer's shipment back, and the merchant's confirmation it arrived.
    return_carrier = UnicodeAttribute(null=True)
    return_tracking_number = UnicodeAttribute(null=True)
    shipped_back_at = UnicodeAttribute(null=True)
    arrived_at = UnicodeAttribute(null=True)
    closed_at = UnicodeAttribute(null=True)
    escalated_at = UnicodeAttribute(null=True)  # once per request (services/aftersale/disputes.py)
    # exchange: the replacement's shipment and its receipt.
    reship_carrier = UnicodeAttribute(null=True)
    reship_tracking_number = UnicodeAttribute(null=True)
    reshipped_at = UnicodeAttribute(null=True)
    exchanged_at = UnicodeAttribute(null=True)

    by_merchant = ReturnsByMerchant()
    by_user = ReturnsByUser()


def return_refund_id(request_id: str) -> str:
    """The refund an approved return owes (one per return request)."""
    return f"refund_{request_id}"


def cancel_refund_id(order_id: str) -> str:
    """The refund a paid order cancelled before shipment owes (one per order)."""
    return f"refund_cancel_{order_id}"


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
    # The payment it goes back through (installments: each part was its own payment);
    # null: the one payment that paid the order.
    attempt_id = UnicodeAttribute(null=True)


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


DISPUTE_OPEN = "open"
DISPUTE_REFUNDED = "refunded"
DISPUTE_REJECTED = "rejected"
DISPUTE_STATUSES = (DISPUTE_OPEN, DISPUTE_REFUNDED, DISPUTE_REJECTED)


class DisputesByStatus(GlobalSecondaryIndex["Dispute"]):
    """Support's queue: disputes of one status, oldest first."""

    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class DisputesByOrder(GlobalSecondaryIndex["Dispute"]):
    class Meta:
        index_name = "by_order"
        projection = AllProjection()

    order_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class Dispute(Model):
    """The platform stepping in (平台介入) on one return request the consumer escalated."""

    Meta = table_meta("disputes")

    dispute_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute()
    request_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    created_key = UnicodeAttribute()  # "<created_at>#<dispute_id>"
    status = UnicodeAttribute(default=DISPUTE_OPEN)
    reason = UnicodeAttribute()
    amount_fen = NumberAttribute()
    created_at = UnicodeAttribute()
    decided_at = UnicodeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    # Support decides by `deadline_at` (timer `dispute_decision`); past it, `late_at` is set and
    # an alarm raised: nothing is decided automatically.
    deadline_at = UnicodeAttribute(null=True)
    late_at = UnicodeAttribute(null=True)

    by_status = DisputesByStatus()
    by_order = DisputesByOrder()
