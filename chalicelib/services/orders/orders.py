"""Orders: read, list, and cancel (`release` gives back what a cancelled order holds).

Every status change goes through `lifecycle.transition` (the table of the lifecycle).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DoesNotExist

from ... import batch, errors, pagination
from ...clock import iso
from ...db import Tx
from ...models.aftersale import Refund, ReturnRequest, cancel_refund_id, return_refund_id
from ...models.orders import (
    AWAITING_CONFIRMATION,
    AWAITING_PAYMENT,
    BNPL,
    PAID,
    PLACED,
    RISK_REVIEW,
    Order,
)
from ...models.payments import PaymentAttempt
from ...observability import count

if TYPE_CHECKING:
    from ...models.timers import Timer
    from ..idempotency import IdemScope
    from .lifecycle import OrderEvent


@dataclass(frozen=True)
class OrderPage:
    items: list[Order]
    next_cursor: str | None


def order_not_found() -> errors.DomainError:
    return errors.not_found("order_not_found", "no such order")


# What the order operations refuse with (a route documents what the services it calls declare).
NOT_FOUND_ERRORS = errors.raises(not_found=["order_not_found"])
TRANSITION_ERRORS = errors.raises(conflict=["illegal_transition"])
CANCEL_ERRORS = NOT_FOUND_ERRORS | TRANSITION_ERRORS


def get_own(user_id: str, order_id: str) -> Order:
    """The caller's order (another user's is a 404, like a missing one)."""
    try:
        order = Order.get(order_id, consistent_read=True)
    except DoesNotExist as exc:
        raise order_not_found() from exc
    if order.user_id != user_id:
        raise order_not_found()
    return order


def list_orders(user_id: str, status: str | None, limit: int, cursor: str | None) -> OrderPage:
    """The caller's orders, newest first, optionally of one status."""
    scope = f"orders:{user_id}:{status or '*'}"
    last_key: Any = pagination.decode(cursor, scope)
    result = Order.by_user.query(
        user_id,
        scan_index_forward=False,
        filter_condition=(Order.status == status) if status else None,
        limit=limit,
        page_size=limit,
        last_evaluated_key=last_key,
    )
    items = list(result)
    return OrderPage(items, pagination.encode(result.last_evaluated_key, scope))


def expiry_deadline(order: Order) -> str | None:
    """When an unfinished checkout lapses: the challenge's expiry, or the channel payment's."""
    if order.status == AWAITING_CONFIRMATION:
        return str(order.challenge_expires_at) if order.challenge_expires_at else None
    if order.status == AWAITING_PAYMENT:
        return str(order.payment_expires_at) if order.payment_expires_at else None
    return None


def release(
    tx: Tx,
    order: Order,
    now: datetime,
    actor: str,
    *,
    event: OrderEvent | None = None,
    note: str | None = None,
    taken: Timer | None = None,
) -> Refund | None:
    """Cancel `order` in `tx` by `event` and give back what it holds: stock, reserved
    credit, coupon; what a paid channel order paid is refunded (only a channel order is
    cancelled from `paid`: the lifecycle's table).

    `taken` is the expiry timer the calling sweep already claims in `tx`. Answers the refund
    a paid channel order is owed (by CANCEL unless `event` says otherwise).

    What a cancellation writes (ledger, timers, stock, coupons, installments, webhooks) is
    loaded with the first one, not by an order read (issue 29: cold start).
    """
    from ... import ledger, timers
    from ...models.coupons import AVAILABLE, Coupon
    from .. import stock
    from ..installments import cancel as installments
    from . import standing
    from .lifecycle import OrderEvent, transition

    was = order.status
    deadline = expiry_deadline(order)
    reserved = int(order.credit_reserved_fen or 0)
    paid = was == PAID and order.payment_method != BNPL
    # An installment order's plan ends; once placed (or held) the fee charged at confirmation is
    # forgiven (the soak found unconfirmed ones left with scheduled parts).
    plan_ended = installments.on_cancelled(tx, order, now, confirmed=was in (PLACED, RISK_REVIEW))
    transition(
        tx,
        order,
        event or OrderEvent.CANCEL,
        now,
        actor,
        actions=[Order.cancelled_at.set(iso(now)), Order.credit_reserved_fen.set(0), Order.amount_due_fen.set(0)]
        + ([Order.refunded_fen.set(int(order.total_fen))] if paid else [])
        + plan_ended,
        note=note,
    )
    refund = _refund_whole(tx, order, now) if paid else None
    order.cancelled_at, order.credit_reserved_fen, order.amount_due_fen = iso(now), 0, 0
    if paid:
        order.refunded_fen = int(order.total_fen)
    for line in order.items:
        stock.release_line(tx, line)  # back to the shards it was taken from
    if was in (PLACED, RISK_REVIEW) and order.payment_method == BNPL:
        if reserved > 0:
            ledger.post(
                tx,
                event_id=f"order:{order.order_id}:credit_released",
                kind="credit_released",
                at=now,
                legs=ledger.credit_released(order.user_id, reserved),
                ref=order.order_id,
            )
        standing.cancelled(tx, order.user_id)
    if order.coupon_id:
        tx.update(
            Coupon(order.user_id, order.coupon_id),
            [Coupon.status.set(AVAILABLE), Coupon.order_id.remove(), Coupon.used_at.remove()],
            condition=Coupon.order_id == order.order_id,
        )
    if deadline and (taken is None or taken.due_at != deadline):
        timers.cancel(tx, timers.CHECKOUT_EXPIRY, order.order_id, deadline)
    review_due = order.risk_review_due_at if was == RISK_REVIEW else None
    if review_due and (taken is None or taken.due_at != review_due):
        timers.cancel(tx, timers.RISK_REVIEW, order.order_id, review_due)
    return refund


def _refund_whole(tx: Tx, order: Order, now: datetime) -> Refund:
    """A paid channel order cancelled before shipment: all of it goes back through the channel
    that paid (`process_refunds` carries it out; nothing was settled to the merchant yet)."""
    from ... import timers

    refund = Refund(
        cancel_refund_id(order.order_id),
        order_id=order.order_id,
        user_id=order.user_id,
        channel=order.paid_channel or order.payment_method,
        amount_fen=int(order.total_fen),
        created_at=iso(now),
    )
    tx.save(refund, condition=Refund.refund_id.does_not_exist())
    timers.schedule(tx, timers.REFUND, refund.refund_id, now)
    return refund


def cancel(user_id: str, order_id: str, now: datetime, idem: IdemScope | None = None) -> Changed:
    """Cancel an order before shipment: its stock, credit and coupon are released, and what a
    channel order paid is refunded through that channel."""
    order = get_own(user_id, order_id)
    money = money_of(order)
    tx = Tx()
    refund = release(tx, order, now, "user")
    changed = Changed(order, Money(money.payments, [*money.refunds, *([refund] if refund else [])]))
    if idem is not None:
        idem.stage(tx, changed)
    tx.commit()
    count("OrdersCancelled")
    return changed


@dataclass(frozen=True)
class Money:
    """What moved on an order: its payment attempts (oldest first) and the refunds owed
    back on it (a cancelled paid order's, each approved return's), oldest first."""

    payments: list[PaymentAttempt]
    refunds: list[Refund]


@dataclass(frozen=True)
class Changed:
    """An order as a write left it (in memory: no read after the write) and what moved on it:
    read before the write, plus what the write owed."""

    order: Order
    money: Money


def money_of(order: Order) -> Money:
    attempts = sorted(batch.under_key(PaymentAttempt.by_order, order.order_id), key=lambda a: int(a.attempt_no))
    # Every refund is owed in the transaction that adds it to `refunded_fen`: none yet, none to read.
    if not int(order.refunded_fen or 0):
        return Money(attempts, [])
    returns = ReturnRequest.by_user.query(order.user_id, filter_condition=ReturnRequest.order_id == order.order_id)
    keys = [cancel_refund_id(order.order_id), *(return_refund_id(r.request_id) for r in returns)]
    refunds = sorted(Refund.batch_get(keys), key=lambda r: (r.created_at, r.refund_id))
    return Money(attempts, refunds)
