"""Which order transitions are merchant events (called by `services/orders.transition`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pynamodb.expressions.update import Action

from ...db import Tx
from ...models import orders as o
from ...models.orders import Order
from . import types
from .outbox import applied, emit


def event_of(was: str, to: str, confirmed: bool) -> str | None:
    """The event a transition `was` -> `to` reports, if any. A checkout the buyer never
    confirmed is none of the merchant's business (its API answers 404 for it)."""
    if was == o.AWAITING_CONFIRMATION and to in (o.PLACED, o.AWAITING_PAYMENT):
        return types.ORDER_CONFIRMED
    if was == o.RISK_REVIEW and to == o.PLACED:  # held for a risk review, then approved
        return types.ORDER_CONFIRMED
    if to == o.CANCELLED:
        return types.ORDER_CANCELLED if confirmed else None
    if to == o.RECEIVED and was == o.SHIPPED:
        return types.ORDER_RECEIVED
    if to == o.PAID:
        return types.ORDER_PAID
    if to == o.OVERDUE:
        return types.ORDER_OVERDUE
    return None


def order_transition(tx: Tx, order: Order, to: str, actions: Sequence[Action], now: datetime) -> None:
    """Emit the event of `order` moving to `to` with `actions` (the order as it will be)."""
    after = applied(order, actions)
    event_type = event_of(str(order.status), to, bool(after.confirmed_at))
    if event_type is not None:
        emit(tx, str(order.merchant_id), event_type, after, now)
