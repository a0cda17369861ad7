"""Event types (SPEC.md "Merchant webhooks") and the objects they carry."""

from __future__ import annotations

from typing import Any

from pynamodb.models import Model

ORDER_CONFIRMED = "order.confirmed"
ORDER_CANCELLED = "order.cancelled"
ORDER_RECEIVED = "order.received"
ORDER_PAID = "order.paid"
ORDER_OVERDUE = "order.overdue"
RETURN_REQUESTED = "return.requested"
RETURN_ANSWERED = "return.answered"
RETURN_SHIPPED_BACK = "return.shipped_back"
RETURN_REFUNDED = "return.refunded"
EXCHANGE_RESHIPPED = "exchange.reshipped"
DISPUTE_OPENED = "dispute.opened"
DISPUTE_DECIDED = "dispute.decided"
MESSAGE_CREATED = "message.created"
PAYOUT_PAID = "payout.paid"
PAYOUT_FAILED = "payout.failed"
PING = "ping"  # the endpoint's test event: sent to that endpoint only

ALL = (
    ORDER_CONFIRMED,
    ORDER_CANCELLED,
    ORDER_RECEIVED,
    ORDER_PAID,
    ORDER_OVERDUE,
    RETURN_REQUESTED,
    RETURN_ANSWERED,
    RETURN_SHIPPED_BACK,
    RETURN_REFUNDED,
    EXCHANGE_RESHIPPED,
    DISPUTE_OPENED,
    DISPUTE_DECIDED,
    MESSAGE_CREATED,
    PAYOUT_PAID,
    PAYOUT_FAILED,
)

# Where a type falls in its object's life: orders the events of one object that share a
# clock instant (a sequence is the change's microsecond, then this rank).
RANK = {
    RETURN_REQUESTED: 1,
    DISPUTE_OPENED: 1,
    RETURN_ANSWERED: 2,
    DISPUTE_DECIDED: 2,
    RETURN_SHIPPED_BACK: 3,
    EXCHANGE_RESHIPPED: 4,
    RETURN_REFUNDED: 5,
}

# Model class name -> (object kind, the attribute that is its id).
OBJECTS = {
    "Order": ("order", "order_id"),
    "ReturnRequest": ("return_request", "request_id"),
    "Dispute": ("dispute", "dispute_id"),
    "OrderMessage": ("message", "message_id"),
    "Payout": ("payout", "payout_id"),
}


def identity(obj: Model | dict[str, Any]) -> tuple[str, str]:
    """(kind, id) of the object an event carries; a plain dict is a `ping`."""
    if isinstance(obj, dict):
        return "ping", str(obj.get("endpoint_id", ""))
    kind, id_attr = OBJECTS[type(obj).__name__]
    return kind, str(getattr(obj, id_attr))


def order_of(obj: Model | dict[str, Any]) -> str | None:
    """The order an event's object is about (its events' `by_order` key), if any."""
    order_id = None if isinstance(obj, dict) else getattr(obj, "order_id", None)
    return str(order_id) if order_id else None
