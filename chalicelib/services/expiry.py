"""Checkout expiry: what was not confirmed (or, for a channel order, not paid) in time is
cancelled by the `expire_checkouts` sweep, its stock and coupon released."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from .. import timers
from ..clock import parse_iso
from ..db import Tx
from ..models.orders import Order
from ..models.timers import Timer
from ..observability import count
from . import channel_trades, orders
from .orders import CHECKOUT_EXPIRY, OrderEvent


def expire_checkouts(now: datetime) -> dict[str, int]:
    """Cancel checkouts not confirmed (or channel orders not paid) by their deadline,
    releasing their stock and coupon, and close their open channel trades. Overlapping
    runs are safe: each timer is taken once."""
    return timers.sweep(CHECKOUT_EXPIRY, now, lambda timer: _expire(timer, now))


def _expire(timer: Timer, now: datetime) -> bool:
    try:
        order: Order | None = Order.get(timer.ref, consistent_read=True)
    except DoesNotExist:
        order = None
    tx = Tx()
    timers.take(tx, timer)
    deadline = orders.expiry_deadline(order) if order else None
    if order is None or deadline != timer.due_at or parse_iso(deadline) > now:
        tx.commit()  # a stale timer (the order moved on): just clear it
        return False
    orders.release(tx, order, now, "system", event=OrderEvent.EXPIRE, note="checkout expired", taken=timer)
    tx.commit()
    count("CheckoutsExpired")
    if order.payment_method in channel_trades.OPEN_TRADE_CHANNELS:
        channel_trades.close_open_trades(order.order_id, now)
    return True
