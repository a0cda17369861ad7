"""The settlement engine: every way money can arrive for an order (a card charge's answer, a
`query`, an Alipay / WeChat Pay / card notification, a wallet debit) becomes a
`ChannelEvent` and goes through `settle`, which
- checks the amount and currency against OUR attempt (never the channel's word alone),
- de-duplicates on the channel's event id (`ChannelInbox`),
- in one conditional transaction marks the attempt, moves the order to `paid`, posts
  the ledger event and notifies the user,
- and is idempotent: the same event twice, or a query and a notification for the same
  attempt, has one effect.

A payment the order can no longer take (paid meanwhile by another attempt, or cancelled)
is recorded the same way and refunded at once (`refunds.py`). Paying a 先用后付 order also
gives its credit back and may lift a freeze; a declined collection charge makes the order
overdue: `repayment.py`, in the same transaction. A transaction that lost a race (an
error that is `retryable`) is re-read and retried, up to `SETTLE_TRIES` times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pynamodb.exceptions import DoesNotExist

from ... import errors, ledger, timers
from ...channels import base as ch
from ...clock import iso
from ...db import Tx
from ...idempotency import IdemScope
from ...models import orders as o
from ...models import payments as pm
from ...models.orders import Order
from ...models.payments import ChannelInbox, PaymentAttempt
from ...money import price
from ...observability import count, logger
from .. import notifications, orders
from ..orders import obligations
from . import bill_lines, repayment
from .attempts import BILL, CHANNEL_NAMES, COLLECTION, get_attempt, money_in_legs
from .payable import load_order, order_moved, takes
from .refunds import refund_unapplied

SETTLE_TRIES = 3


class Result(StrEnum):
    """What `settle` did with an event."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    UNKNOWN_ATTEMPT = "unknown_attempt"
    MISMATCH = "mismatch"
    CONFLICTING = "conflicting"


@dataclass(frozen=True)
class Settlement:
    """What `settle` did. `ack` is whether the channel should stop re-sending."""

    result: Result
    ack: bool
    attempt: PaymentAttempt | None = None
    order_status: str | None = None


_DUPLICATE = "notification_duplicate"
_ATTEMPT_MOVED = "attempt_settled"
# Lost races (the caller re-reads), a wallet too low, a settlement under way elsewhere.
SETTLE_ERRORS = errors.raises(
    conflict=[_DUPLICATE, _ATTEMPT_MOVED, "insufficient_balance"], unavailable=["temporarily_unavailable"]
)


def inbox(tx: Tx, event: ch.ChannelEvent, result: str, now: datetime) -> None:
    tx.save(
        ChannelInbox(
            f"{event.channel}#{event.event_id}",
            channel=event.channel,
            attempt_id=event.attempt_id,
            result=result,
            received_at=iso(now),
        ),
        condition=ChannelInbox.key.does_not_exist(),
        on_fail=errors.moved(_DUPLICATE, "this notification was already handled"),
    )


def _seen(event: ch.ChannelEvent) -> bool:
    try:
        ChannelInbox.get(f"{event.channel}#{event.event_id}", consistent_read=True)
    except DoesNotExist:
        return False
    return True


def _record_only(event: ch.ChannelEvent, result: str, now: datetime) -> None:
    tx = Tx()
    inbox(tx, event, result, now)
    try:
        tx.commit()
    except errors.DomainError as err:
        if err.code != _DUPLICATE:
            raise


def _flag(event: ch.ChannelEvent, reason: str, metric: str, **extra: Any) -> None:
    logger.warning(
        "channel event not applied",
        extra={
            "channel": event.channel,
            "event_id": event.event_id,
            "attempt_id": event.attempt_id,
            "reason": reason,
            **extra,
        },
    )
    count(metric, channel=event.channel)


def settle(
    event: ch.ChannelEvent,
    now: datetime,
    *,
    idem: IdemScope | None = None,
    render: Callable[[PaymentAttempt, str], Any] | None = None,
) -> Settlement:
    """Apply a verified channel event to our attempt and its order, once.

    `idem`/`render`: a pay-now request stages its response in the same transaction.
    """
    for _ in range(SETTLE_TRIES):
        outcome = _settle_once(event, now, idem, render)
        if outcome is not None:
            return outcome
    raise errors.unavailable("temporarily_unavailable", "the payment is being settled concurrently; retry")


def _settle_once(
    event: ch.ChannelEvent,
    now: datetime,
    idem: IdemScope | None,
    render: Callable[[PaymentAttempt, str], Any] | None,
) -> Settlement | None:
    if _seen(event):
        logger.info("duplicate channel event", extra={"channel": event.channel, "event_id": event.event_id})
        return Settlement(Result.DUPLICATE, True, get_attempt(event.attempt_id))
    attempt = get_attempt(event.attempt_id)
    if attempt is None:
        _flag(event, "unknown_attempt", "ChannelEventUnknownAttempt")
        _record_only(event, "unknown_attempt", now)
        return Settlement(Result.UNKNOWN_ATTEMPT, True)
    if event.status == ch.PENDING:
        _record_only(event, "ignored", now)
        return Settlement(Result.IGNORED, True, attempt)
    if event.channel != attempt.channel:
        _flag(event, "channel_mismatch", "ChannelAmountMismatch")
        return Settlement(Result.MISMATCH, False, attempt)
    if event.status == ch.SUCCEEDED and (
        event.amount_fen != int(attempt.amount_fen) or (event.currency or "") != attempt.currency
    ):
        # Never trust the channel's amount over ours: refuse, flag, change nothing.
        _flag(
            event,
            "amount_mismatch",
            "ChannelAmountMismatch",
            expected_fen=int(attempt.amount_fen),
            claimed_fen=event.amount_fen,
        )
        return Settlement(Result.MISMATCH, False, attempt)
    if attempt.status == event.status or (attempt.status == pm.REFUNDED and event.status == ch.SUCCEEDED):
        _record_only(event, "duplicate", now)  # e.g. a query settled it before the notification came
        return Settlement(Result.DUPLICATE, True, attempt)
    if event.status == ch.FAILED:
        if attempt.status != pm.PENDING:
            _flag(event, "conflicting_event", "ChannelEventConflict", attempt_status=attempt.status)
            _record_only(event, "conflicting", now)
            return Settlement(Result.CONFLICTING, True, attempt)
        return _fail(event, attempt, now)
    return _succeed(event, attempt, now, idem, render)


def _attempt_condition(attempt: PaymentAttempt) -> Any:
    return PaymentAttempt.status == attempt.status


def _fail(event: ch.ChannelEvent, attempt: PaymentAttempt, now: datetime) -> Settlement | None:
    tx = Tx()
    inbox(tx, event, "failed", now)
    code = event.failure_code or "declined"
    tx.update(
        attempt,
        [
            PaymentAttempt.status.set(pm.FAILED),
            PaymentAttempt.failure_code.set(code),
            PaymentAttempt.updated_at.set(iso(now)),
            PaymentAttempt.settled_at.set(iso(now)),
        ]
        + ([PaymentAttempt.channel_txn_id.set(event.channel_txn_id)] if event.channel_txn_id else []),
        condition=_attempt_condition(attempt),
        on_fail=errors.moved(_ATTEMPT_MOVED, "the attempt was settled meanwhile"),
    )
    bill = attempt.purpose == BILL
    what = f"{bill_lines.month_of(attempt)} 账单" if bill else f"订单 {attempt.order_id}"
    note = (
        notifications.PAYMENT_FAILED,
        "支付失败",
        f"{what} 的{CHANNEL_NAMES.get(attempt.channel, '')}支付未成功（{code}），请重新支付。",
    )
    order = None if bill else load_order(attempt.order_id)
    if attempt.purpose == COLLECTION and order is not None:
        note = repayment.on_declined(tx, order, attempt, code, now) or note
    kind, title, body = note
    notifications.notify(
        tx,
        attempt.user_id,
        kind,
        title,
        body,
        None if bill else attempt.order_id,
        f"payment:{attempt.attempt_id}:failed",
        now,
    )
    if not _commit(tx):
        return None
    count("PaymentsFailed", channel=attempt.channel)
    logger.info("payment failed", extra={"attempt_id": attempt.attempt_id, "order_id": attempt.order_id, "code": code})
    attempt.status, attempt.failure_code = pm.FAILED, code
    order = None if bill else load_order(attempt.order_id)
    return Settlement(Result.FAILED, True, attempt, order.status if order else None)


def _commit(tx: Tx) -> bool:
    """Commit; False when a concurrent settle moved the attempt or order (re-read and retry)."""
    try:
        tx.commit()
    except errors.DomainError as err:
        if err.retryable:
            return False
        raise
    return True


def received(tx: Tx, attempt: PaymentAttempt, order: Order | None, now: datetime) -> None:
    """The money of a succeeded attempt arrived (`payment:<attempt>:in`); when its order can
    take it (`order`), the order is paid and the user told, in the same transaction."""
    ledger.post(
        tx,
        event_id=f"payment:{attempt.attempt_id}:in",
        kind="payment_received",
        at=now,
        legs=money_in_legs(attempt),
        ref=attempt.order_id,
        insufficient=errors.conflict("insufficient_balance", "the wallet balance is too low for this order"),
    )
    if order is None:
        return
    _mark_paid(tx, order, attempt, now)
    collected = attempt.purpose == COLLECTION
    notifications.notify(
        tx,
        attempt.user_id,
        notifications.PAYMENT_SUCCEEDED,
        "自动扣款成功" if collected else "支付成功",
        f"订单 {order.order_id} 已{'自动从' if collected else '通过'}{CHANNEL_NAMES.get(attempt.channel, '')}"
        f"{'扣款' if collected else '支付'} {price(int(attempt.amount_fen))}。",
        order.order_id,
        f"payment:{attempt.attempt_id}:succeeded",
        now,
    )


def _succeed(
    event: ch.ChannelEvent,
    attempt: PaymentAttempt,
    now: datetime,
    idem: IdemScope | None,
    render: Callable[[PaymentAttempt, str], Any] | None,
) -> Settlement | None:
    if attempt.purpose == BILL:
        return _succeed_bill(event, attempt, now)
    order = load_order(attempt.order_id)
    # Not payable, the amount owed changed (a partial return), or its part was paid meanwhile.
    applies = takes(order, attempt, now)
    tx = Tx()
    outcome = pm.APPLIED if applies else pm.UNAPPLIED
    _record_succeeded(tx, event, attempt, outcome, now)
    received(tx, attempt, order if applies else None, now)
    order_status = order.status if order is not None else None  # paid (received again after a part)
    if outcome == pm.UNAPPLIED:
        timers.schedule(tx, timers.UNAPPLIED_REFUND, attempt.attempt_id, now)
        if order is not None:
            obligations.rearm(tx, order)  # still owed (e.g. a return changed the amount): collect the rest
    attempt.status, attempt.outcome = pm.SUCCEEDED, outcome
    if event.channel_txn_id:
        attempt.channel_txn_id = event.channel_txn_id
    if idem is not None and render is not None:
        idem.stage(tx, render(attempt, order_status or ""))
    if not _commit(tx):
        return None
    count("PaymentsSucceeded", channel=attempt.channel)
    logger.info(
        "payment succeeded",
        extra={"attempt_id": attempt.attempt_id, "order_id": attempt.order_id, "outcome": outcome},
    )
    if outcome == pm.UNAPPLIED:
        _flag(event, "order_not_payable", "UnappliedPayment", order_status=order_status or "missing")
        refund_unapplied(timers.timer(timers.UNAPPLIED_REFUND, attempt.attempt_id, now), now)
        attempt = get_attempt(attempt.attempt_id) or attempt
    return Settlement(Result.SUCCEEDED, True, attempt, order_status)


def _record_succeeded(tx: Tx, event: ch.ChannelEvent, attempt: PaymentAttempt, outcome: str, now: datetime) -> None:
    """The event (in the inbox) and the attempt succeeded, on condition it was still as read."""
    inbox(tx, event, "succeeded", now)
    actions = [
        PaymentAttempt.status.set(pm.SUCCEEDED),
        PaymentAttempt.outcome.set(outcome),
        PaymentAttempt.updated_at.set(iso(now)),
        PaymentAttempt.settled_at.set(iso(now)),
        PaymentAttempt.failure_code.remove(),
    ]
    if event.channel_txn_id:
        actions.append(PaymentAttempt.channel_txn_id.set(event.channel_txn_id))
    tx.update(attempt, actions, condition=_attempt_condition(attempt), on_fail=errors.moved(_ATTEMPT_MOVED, "settled"))


def _succeed_bill(event: ch.ChannelEvent, attempt: PaymentAttempt, now: datetime) -> Settlement | None:
    """A monthly bill's one charge succeeded: recorded once, then applied part by part
    (`bill_lines`); what a crash leaves unresolved, the attempt's `bill_payment` timer finishes."""
    tx = Tx()
    _record_succeeded(tx, event, attempt, pm.APPLIED, now)
    bill_lines.record_success(tx, attempt, now)
    if not _commit(tx):
        return None
    attempt.status, attempt.outcome, attempt.settled_at = pm.SUCCEEDED, pm.APPLIED, iso(now)
    if event.channel_txn_id:
        attempt.channel_txn_id = event.channel_txn_id
    count("PaymentsSucceeded", channel=attempt.channel)
    try:
        bill_lines.resolve(attempt, now)
    except errors.DomainError as err:  # recorded: the timer resolves the rest
        logger.warning("bill lines not resolved yet", extra={"attempt_id": attempt.attempt_id, "code": err.code})
    return Settlement(Result.SUCCEEDED, True, get_attempt(attempt.attempt_id) or attempt)


def _mark_paid(tx: Tx, order: Order, attempt: PaymentAttempt, now: datetime) -> None:
    """awaiting_payment -> paid, recording the channel that paid; its expiry timer goes.
    先用后付: received/overdue -> paid with the credit given back (`repayment.mark_paid`)."""
    if order.payment_method == o.BNPL:
        repayment.mark_paid(tx, order, attempt, now)
        return
    expires = order.payment_expires_at
    orders.transition(
        tx,
        order,
        orders.OrderEvent.PAY,
        now,
        f"channel:{attempt.channel}",
        actions=[Order.paid_at.set(iso(now)), Order.paid_channel.set(attempt.channel)],
        on_fail=order_moved(),
    )
    if expires:
        timers.cancel(tx, timers.CHECKOUT_EXPIRY, order.order_id, expires)
