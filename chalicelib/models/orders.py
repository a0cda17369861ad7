"""Orders: one per merchant per checkout; the state machine lives in services."""

from __future__ import annotations

from enum import StrEnum

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from ..db import table_meta


class OrderStatus(StrEnum):
    """An order's status: the one definition (the OpenAPI `OrderStatus` lists these values).
    Which event moves an order from one to another: services/orders/lifecycle.py."""

    AWAITING_CONFIRMATION = "awaiting_confirmation"
    AWAITING_PAYMENT = "awaiting_payment"
    RISK_REVIEW = "risk_review"  # 先用后付 held for a risk operator (services/risk): credit reserved
    PLACED = "placed"
    PAID = "paid"
    SHIPPED = "shipped"
    RECEIVED = "received"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    RETURN_REQUESTED = "return_requested"
    RETURNED = "returned"
    OVERDUE = "overdue"


# The statuses by their short names, as the services spell them (`o.SHIPPED`).
AWAITING_CONFIRMATION = OrderStatus.AWAITING_CONFIRMATION
AWAITING_PAYMENT = OrderStatus.AWAITING_PAYMENT
RISK_REVIEW = OrderStatus.RISK_REVIEW
PLACED = OrderStatus.PLACED
PAID = OrderStatus.PAID
SHIPPED = OrderStatus.SHIPPED
RECEIVED = OrderStatus.RECEIVED
COMPLETED = OrderStatus.COMPLETED
CANCELLED = OrderStatus.CANCELLED
RETURN_REQUESTED = OrderStatus.RETURN_REQUESTED
RETURNED = OrderStatus.RETURNED
OVERDUE = OrderStatus.OVERDUE
STATUSES = tuple(s.value for s in OrderStatus)

BNPL = "bnpl"
PAYMENT_METHODS = ("bnpl", "alipay", "wechat_pay", "card", "wallet")
# A checkout is one DynamoDB transaction (at most 100 items): per line a stock update and a
# cart delete, per order the order and its timer, plus the coupon and the idempotency record.
MAX_CHECKOUT_LINES = 20


def obligated(status: str, payment_method: str) -> bool:
    """An order something is still owed on: goods awaiting receipt, or 先用后付 money due.
    Such an order carries `obligation` (the sparse `by_obligation` index's key)."""
    return status == SHIPPED or (payment_method == BNPL and status in (RECEIVED, OVERDUE))


class OrdersByUser(GlobalSecondaryIndex["Order"]):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)  # "<created_at>#<order_id>"


class OrdersByMerchant(GlobalSecondaryIndex["Order"]):
    """A merchant's orders, newest first, on `merchant_key` = "<merchant_id>#<shard>": a very
    large merchant's orders spread over several partitions (`services/orders/order_index.py`)."""

    class Meta:
        index_name = "by_merchant_key"
        projection = AllProjection()

    merchant_key = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class OrdersByObligation(GlobalSecondaryIndex["Order"]):
    """Sparse: only orders that still owe something carry `obligation` ("obl#<shard>"), so
    the daily obligation check reads them by key, shard by shard, never a scan."""

    class Meta:
        index_name = "by_obligation"
        projection = IncludeProjection(
            ["status", "payment_method", "shipped_at", "due_at", "amount_due_fen", "collection_attempts"]
        )

    obligation = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)


class Order(Model):
    Meta = table_meta("orders")

    order_id = UnicodeAttribute(hash_key=True)
    checkout_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    merchant_key = UnicodeAttribute(null=True)  # "<merchant_id>#<shard>" (services/orders/order_index.py)
    created_key = UnicodeAttribute()
    status = UnicodeAttribute()
    payment_method = UnicodeAttribute()
    # [{sku_id, product_id, name, attributes, unit_price_fen, quantity, line_total_fen, returned_quantity}]
    items = JSONAttribute()
    subtotal_fen = NumberAttribute()
    discount_fen = NumberAttribute(default=0)
    total_fen = NumberAttribute()
    # What the consumer still owes on a 先用后付 order (total less returned goods).
    amount_due_fen = NumberAttribute(default=0)
    credit_reserved_fen = NumberAttribute(default=0)
    coupon_id = UnicodeAttribute(null=True)
    address = JSONAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    # [{status, at, actor, note?}] appended on every transition
    history = JSONAttribute(default=list)
    # Single-use payment challenge (password or device signature).
    challenge_id = UnicodeAttribute(null=True)
    challenge_nonce = UnicodeAttribute(null=True)
    challenge_expires_at = UnicodeAttribute(null=True)
    challenge_used = BooleanAttribute(default=False)
    confirmed_at = UnicodeAttribute(null=True)  # set once placed: a merchant sees the order from then
    risk_review_due_at = UnicodeAttribute(null=True)  # while `risk_review`: when the timer declines it
    shipped_at = UnicodeAttribute(null=True)
    carrier = UnicodeAttribute(null=True)
    tracking_number = UnicodeAttribute(null=True)
    received_at = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    paid_at = UnicodeAttribute(null=True)
    paid_on_time = BooleanAttribute(null=True)
    completed_at = UnicodeAttribute(null=True)
    cancelled_at = UnicodeAttribute(null=True)
    collection_attempts = NumberAttribute(default=0)
    pending_return_id = UnicodeAttribute(null=True)
    # The after-sale wait the open request is in: its timer kind and when it runs out
    # (`obligations.needed` derives the timer from these; services/aftersale).
    aftersale_timer = UnicodeAttribute(null=True)
    aftersale_due_at = UnicodeAttribute(null=True)
    last_return_id = UnicodeAttribute(null=True)  # the request a dispute escalates
    open_dispute_id = UnicodeAttribute(null=True)  # one open dispute per order
    # Its return requests and disputes, oldest first, so support reads them by key with their
    # refunds (services/aftersale/cases.py). Null on an order whose first request came before
    # they were recorded: those read them by query.
    return_ids = ListAttribute[str](null=True)
    dispute_ids = ListAttribute[str](null=True)
    # Value of goods returned so far (consumer terms: released credit or refunded money).
    refunded_fen = NumberAttribute(default=0)
    # The channel that took the consumer's money (channel orders: the payment method;
    # 先用后付: the channel that paid it, set by collection).
    paid_channel = UnicodeAttribute(null=True)
    # What receipt settled to the merchant (so returns reverse exactly that).
    settled_payable_fen = NumberAttribute(default=0)
    settled_fee_fen = NumberAttribute(default=0)
    # A channel order's deadline to pay (its `checkout_expiry` timer fires then).
    payment_expires_at = UnicodeAttribute(null=True)
    # Set while the order is `obligated` (see `OrdersByObligation`), by `orders.transition`.
    obligation = UnicodeAttribute(null=True)
    # Installments (services/installments/state.py): the plan and its parts, or null (single).
    installment_plan = JSONAttribute(null=True)
    # Refunds owed on returns through the monthly bill payments that paid parts: {attempt_id: fen}
    # (a bill payment pays several orders; each order gets back at most its own lines).
    bill_refunds_owed = JSONAttribute(null=True)

    by_user = OrdersByUser()
    by_merchant = OrdersByMerchant()
    by_obligation = OrdersByObligation()
