"""Paying a 先用后付 order, and a declined collection charge: the repayment rules settlement
applies inside the transaction that records the outcome (`settlement.py`).

`mark_paid`: received/overdue -> paid with the credit given back; `on_declined`: the order
goes overdue and 先用后付 is frozen (`services/orders/standing.py`), the next round is timed. The
sweeper that charges the default card at the window's close is `collection.py`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ... import ledger, timers
from ...clock import CHINA, iso, parse_iso
from ...config import settings
from ...db import Tx
from ...models import orders as o
from ...models.orders import Order
from ...models.payments import PaymentAttempt
from ...money import price
from ...observability import count, logger
from .. import accounts, notifications, orders, rewards
from ..installments import lifecycle as installments
from ..installments.state import part_tag
from ..orders import standing
from ..risk import decide as risk_decision
from .attempts import COLLECTION
from .payable import order_moved, user_moved


def collectable(order: Order | None) -> bool:
    """A 先用后付 order that still owes money and may be charged: in its window or overdue
    (a pending return pauses collection; a paid or returned order owes nothing)."""
    return (
        order is not None
        and order.payment_method == o.BNPL
        and order.status in (o.RECEIVED, o.OVERDUE)
        and int(order.amount_due_fen or 0) > 0
    )


def mark_paid(tx: Tx, order: Order, attempt: PaymentAttempt, now: datetime) -> None:
    """received/overdue -> paid, in the settling transaction `tx`.

    - the order: `paid_at`, `paid_channel`, `paid_on_time`, nothing left due or reserved;
      conditional on the status and the amount due it was read with;
    - the credit it held is given back (event `order:<id>:credit_repaid`, see `ledger.py`);
    - on time = never overdue, and either paid by `due_at` or by the auto-debit while the
      order is still in its window (the window's own payment: charged at the close, or as
      soon as a return that paused the window ends; a declined one makes it overdue),
      however late that charge settles. Anything else after `due_at` is late, even when a
      return kept the order out of `overdue`. On-time payments earn points and count toward
      the credit limit (`rewards.on_paid_on_time`, whose user-item change is merged into
      the one update of the user here);
    - the risk profile: the amount paid for joins the user's median (`risk.decide.count_paid`);
    - the user: one unpaid 先用后付 order fewer; an overdue one also leaves the overdue
      count, and the freeze lifts when it was the last - conditional on the count read,
      so a concurrent decline elsewhere makes this transaction retry, never lose the freeze;
    - paid early: the window's timers go; paid after `due_at`: the completion timer is set
      again at `due_at` (already due; the same key, so whether or not it already fired the
      order completes once).
    """
    was = order.status
    amount = int(order.amount_due_fen or 0)
    reserved = int(order.credit_reserved_fen or 0)
    on_time = was == o.RECEIVED and (attempt.purpose == COLLECTION or _by_due(order, now))
    user = accounts.get(order.user_id)
    closing = installments.on_paid(tx, order, attempt, now, user)  # None: a single payment
    if installments.advanced(closing):
        return  # a part paid, more to come: the order owes its next part
    points_fen = amount
    if closing is not None:  # the last part: its points were earned with it; on time if every part was
        on_time, points_fen = closing.all_on_time, 0
    orders.transition(
        tx,
        order,
        orders.OrderEvent.PAY,
        now,
        "system" if attempt.purpose == COLLECTION else f"channel:{attempt.channel}",
        actions=[
            Order.paid_at.set(iso(now)),
            Order.paid_channel.set(attempt.channel),
            Order.paid_on_time.set(on_time),
            Order.amount_due_fen.set(0),
            Order.credit_reserved_fen.set(0),
            *(closing.actions if closing is not None else []),
        ],
        condition=Order.amount_due_fen == amount,
        on_fail=order_moved(),
    )
    order.paid_at, order.paid_channel, order.paid_on_time = iso(now), attempt.channel, on_time

    ledger.post(
        tx,
        event_id=f"order:{order.order_id}:credit_repaid",
        kind="credit_repaid",
        at=now,
        legs=ledger.credit_released(order.user_id, reserved),
        ref=order.order_id,
        # Giving credit back cannot run short; a failed condition means the balance moved.
        insufficient=user_moved("the credit balance changed meanwhile"),
    )
    reward = (
        rewards.on_paid_on_time(tx, order, now, user=user, paid_fen=points_fen) if on_time else rewards.UserChange()
    )

    actions, condition = reward.merged(*standing.closed(user, was_overdue=was == o.OVERDUE))
    tx.update(user, actions, condition=condition, on_fail=user_moved())
    risk_decision.count_paid(tx, order.user_id, int(order.total_fen) - int(order.refunded_fen or 0))

    if order.due_at:
        due = parse_iso(order.due_at)
        if now < due:
            timers.cancel(tx, timers.PAYMENT_DUE, order.order_id, due)
            timers.cancel(tx, timers.DUE_REMINDER, order.order_id, due - installments.reminder_lead(order))
        elif closing is None:  # an installment plan's close set its completion (`installments.on_paid`)
            timers.schedule(tx, timers.ORDER_COMPLETION, order.order_id, due)
    count("BnplOrdersPaid", on_time=str(on_time).lower(), channel=attempt.channel)


def _by_due(order: Order, now: datetime) -> bool:
    return not order.due_at or now <= parse_iso(order.due_at)


def on_declined(tx: Tx, order: Order, attempt: PaymentAttempt, code: str, now: datetime) -> tuple[str, str, str] | None:
    """A collection charge was declined (in the transaction recording it): the order is
    overdue, 先用后付 frozen for the user, and the next round is set a retry period later
    while retries remain. Answers the notification to write (None: the order no longer
    owes money, e.g. it was paid another way meanwhile or a return paused it)."""
    if not collectable(order):
        return None
    rules = settings().rules
    round_no = int(attempt.collection_round or 1)
    retries_left = rules.collection_max_retries - (round_no - 1)
    amount = int(order.amount_due_fen)
    if order.status == o.RECEIVED:
        orders.transition(
            tx,
            order,
            orders.OrderEvent.MARK_OVERDUE,
            now,
            "system",
            condition=Order.amount_due_fen == amount,
            on_fail=order_moved(),
            note=f"collection declined ({code})",
        )
        standing.went_overdue(tx, order.user_id)
        count("OrdersOverdue")
    else:
        # Already overdue: the retry below stands only while it still is.
        tx.update(
            order,
            [Order.updated_at.set(iso(now))],
            condition=(Order.status == o.OVERDUE) & (Order.amount_due_fen == amount),
            on_fail=order_moved(),
        )
    if retries_left > 0:
        timers.schedule(
            tx,
            timers.COLLECTION_RETRY,
            order.order_id,
            now + timedelta(seconds=rules.collection_retry_seconds),
            {"round": round_no + 1, **part_tag(order)},
        )
        then = (
            f"我们将于 {local_time(now + timedelta(seconds=rules.collection_retry_seconds))} 再次扣款，也可现在还款。"
        )
    else:
        then = "自动扣款已停止，请尽快还款。"
    logger.info(
        "collection declined",
        extra={"order_id": order.order_id, "round": round_no, "code": code, "retries_left": max(retries_left, 0)},
    )
    return (
        notifications.PAYMENT_OVERDUE,
        "扣款失败，订单已逾期",
        f"订单 {order.order_id} 的 {price(amount)} 自动扣款未成功（{code}），订单已逾期，"
        f"先用后付已暂停，还清后恢复。{then}",
    )


def local_time(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%m月%d日 %H:%M")
