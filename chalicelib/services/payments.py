"""Payments: pay now, channel notifications, and the settlement they share.

Every way money can arrive for an order (a card charge's answer, a `query`, an Alipay /
WeChat Pay / card notification, a wallet debit) becomes a `ChannelEvent` and goes
through `settle`, which
- checks the amount and currency against OUR attempt (never the channel's word alone),
- de-duplicates on the channel's event id (`ChannelInbox`),
- in one conditional transaction marks the attempt, moves the order to `paid`, posts
  the ledger event and notifies the user,
- and is idempotent: the same event twice, or a query and a notification for the same
  attempt, has one effect.

Ledger (see `ledger.py`): money arriving through channel C is `Leg(PLATFORM,
"clearing_C", +x)` against the consumer side: the user's wallet `cash` (-x) for the
wallet, `consumer_payments` (-x, what consumers paid us from outside) for card, Alipay
and WeChat Pay. A payment the order can no longer take (paid meanwhile by another
attempt, or cancelled) is recorded the same way and refunded at once.

Which orders are payable, from which status, is `_plan`: channel orders from
`awaiting_payment` for their total; 先用后付 orders from `received` or `overdue` for what
they still owe (`amount_due_fen`). Paying a 先用后付 order also gives its credit back, counts
toward the credit limit and may lift a freeze: `services/collection.py::mark_paid`, in the
same transaction. A declined collection charge (window close or daily retry) makes the
order overdue: `collection.on_declined`, in the transaction that records the decline.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist

from .. import channels, errors, jobs, ledger, timers
from ..channels import base as ch
from ..channels import wallet as wallet_channel
from ..clock import iso, parse_iso
from ..config import settings
from ..db import Tx
from ..idempotency import IdemScope
from ..ledger import PLATFORM, Leg
from ..models import orders as o
from ..models import payments as pm
from ..models.aftersale import PENDING as REFUND_PENDING
from ..models.aftersale import Refund
from ..models.orders import Order
from ..models.payments import ChannelInbox, PaymentAttempt
from ..models.timers import Timer
from ..observability import count, logger
from . import accounts, notifications, obligations, orders

CONSUMER_PAYMENTS = "consumer_payments"
# Attempt purposes: the user paying now, checkout's channel payment, the auto-debit.
COLLECTION = "collection"
SETTLE_TRIES = 3
# A timer per payment that arrived for an order that could not take it: refunded at once,
# and by `refund_unapplied_payments` until the channel confirms the refund.
UNAPPLIED_REFUND = "unapplied_refund"
# Refunds owed on returned orders (`models/aftersale.Refund`, set by fulfilment).
REFUND_TIMER = timers.REFUND


# --- attempts ---------------------------------------------------------------------------


ATTEMPT_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def attempt_id_for(order_id: str, attempt_no: int) -> str:
    """Attempt n of an order has one id: 32 characters, valid as any channel's out_trade_no."""
    return "pa" + hashlib.sha256(f"{order_id}#{attempt_no}".encode()).hexdigest()[:30]


def attempts_for(order_id: str) -> list[PaymentAttempt]:
    return list(PaymentAttempt.by_order.query(order_id))


def get_attempt(attempt_id: str) -> PaymentAttempt | None:
    """Our attempt by id; None for an id we could never have issued (a channel's signed but
    empty or odd reference is an unknown trade: acknowledged and flagged, never a 500)."""
    if not ATTEMPT_ID.fullmatch(attempt_id):
        return None
    try:
        return PaymentAttempt.get(attempt_id, consistent_read=True)
    except DoesNotExist:
        return None


def paid_attempt(order_id: str) -> PaymentAttempt | None:
    """The attempt that paid the order (refunds of a paid order go back through it)."""
    for attempt in attempts_for(order_id):
        if attempt.outcome == pm.APPLIED and attempt.status in (pm.SUCCEEDED, pm.REFUNDED):
            return get_attempt(attempt.attempt_id)
    return None


def new_attempt(
    order_id: str,
    user_id: str,
    channel: str,
    amount_fen: int,
    purpose: str,
    now: datetime,
    *,
    card_token: str | None = None,
    card_last4: str | None = None,
    status: str = pm.PENDING,
    collection_round: int | None = None,
) -> PaymentAttempt:
    attempt_no = max((int(a.attempt_no) for a in attempts_for(order_id)), default=0) + 1
    return PaymentAttempt(
        attempt_id_for(order_id, attempt_no),
        order_id=order_id,
        attempt_no=attempt_no,
        user_id=user_id,
        channel=channel,
        purpose=purpose,
        amount_fen=amount_fen,
        currency=settings().rules.currency,
        status=status,
        instrument_token=card_token,
        card_last4=card_last4,
        collection_round=collection_round,
        created_at=iso(now),
        updated_at=iso(now),
    )


def save_attempt(tx: Tx, attempt: PaymentAttempt) -> None:
    tx.save(
        attempt,
        condition=PaymentAttempt.attempt_id.does_not_exist(),
        on_fail=errors.conflict("payment_in_progress", "another payment of this order started meanwhile; retry"),
    )


def payment_ref(attempt: PaymentAttempt, expires_at: str | None = None) -> ch.PaymentRef:
    """What a channel needs about an attempt; `expires_at`: the order's payment deadline."""
    return ch.PaymentRef(
        attempt_id=attempt.attempt_id,
        order_id=attempt.order_id,
        user_id=attempt.user_id,
        amount_fen=int(attempt.amount_fen),
        currency=attempt.currency,
        created_at=parse_iso(attempt.created_at),
        instrument_token=attempt.instrument_token,
        description=f"PayLater {attempt.order_id}",
        expires_at=parse_iso(expires_at) if expires_at else None,
    )


# --- which orders are payable ------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """How an order is paid: from which statuses, and how much."""

    from_statuses: tuple[str, ...]
    amount_fen: int


def _plan(order: Order) -> Plan | None:
    if order.payment_method != o.BNPL:
        return Plan((o.AWAITING_PAYMENT,), int(order.total_fen))
    # In the window (received) or after a failed collection (overdue); a pending return
    # pauses payment, and a fully returned order owes nothing.
    if int(order.amount_due_fen or 0) <= 0:
        return None
    return Plan((o.RECEIVED, o.OVERDUE), int(order.amount_due_fen))


def _payable(order: Order) -> Plan | None:
    plan = _plan(order)
    return plan if plan is not None and order.status in plan.from_statuses else None


def load_order(order_id: str) -> Order | None:
    try:
        return Order.get(order_id, consistent_read=True)
    except DoesNotExist:
        return None


def _owned_order(user_id: str, order_id: str) -> Order:
    order = load_order(order_id)
    if order is None or order.user_id != user_id:
        raise errors.not_found("order_not_found", "no such order")
    return order


# --- ledger legs --------------------------------------------------------------------------


def _money_in_legs(attempt: PaymentAttempt) -> list[Leg]:
    amount = int(attempt.amount_fen)
    if attempt.channel == ch.WALLET:
        return wallet_channel.debit_legs(attempt.user_id, amount)
    return [Leg(PLATFORM, f"clearing_{attempt.channel}", amount), Leg(PLATFORM, CONSUMER_PAYMENTS, -amount)]


def _refund_legs(attempt: PaymentAttempt, amount_fen: int) -> list[Leg]:
    if attempt.channel == ch.WALLET:
        return wallet_channel.credit_legs(attempt.user_id, amount_fen)
    return [Leg(PLATFORM, f"clearing_{attempt.channel}", -amount_fen), Leg(PLATFORM, CONSUMER_PAYMENTS, amount_fen)]


def yuan(amount_fen: int) -> str:
    return f"¥{amount_fen // 100}.{amount_fen % 100:02d}"


CHANNEL_NAMES = {ch.CARD: "银行卡", ch.ALIPAY: "支付宝", ch.WECHAT_PAY: "微信支付", ch.WALLET: "钱包余额"}


# --- settlement ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    """What `settle` did. `ack` is whether the channel should stop re-sending."""

    result: str  # succeeded | failed | duplicate | ignored | unknown_attempt | mismatch | conflicting
    ack: bool
    attempt: PaymentAttempt | None = None
    order_status: str | None = None


_DUPLICATE = "notification_duplicate"
_ATTEMPT_MOVED = "attempt_settled"
# A settlement's transaction lost a race on the order or the user: re-read and retry.
ORDER_MOVED = "order_changed"
USER_MOVED = "account_changed"
_ORDER_MOVED = ORDER_MOVED


def _inbox(tx: Tx, event: ch.ChannelEvent, result: str, now: datetime) -> None:
    tx.save(
        ChannelInbox(
            f"{event.channel}#{event.event_id}",
            channel=event.channel,
            attempt_id=event.attempt_id,
            result=result,
            received_at=iso(now),
        ),
        condition=ChannelInbox.key.does_not_exist(),
        on_fail=errors.conflict(_DUPLICATE, "this notification was already handled"),
    )


def _seen(event: ch.ChannelEvent) -> bool:
    try:
        ChannelInbox.get(f"{event.channel}#{event.event_id}", consistent_read=True)
    except DoesNotExist:
        return False
    return True


def _record_only(event: ch.ChannelEvent, result: str, now: datetime) -> None:
    tx = Tx()
    _inbox(tx, event, result, now)
    try:
        tx.commit()
    except errors.ApiError as err:
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
        return Settlement("duplicate", True, get_attempt(event.attempt_id))
    attempt = get_attempt(event.attempt_id)
    if attempt is None:
        _flag(event, "unknown_attempt", "ChannelEventUnknownAttempt")
        _record_only(event, "unknown_attempt", now)
        return Settlement("unknown_attempt", True)
    if event.status == ch.PENDING:
        _record_only(event, "ignored", now)
        return Settlement("ignored", True, attempt)
    if event.channel != attempt.channel:
        _flag(event, "channel_mismatch", "ChannelAmountMismatch")
        return Settlement("mismatch", False, attempt)
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
        return Settlement("mismatch", False, attempt)
    if attempt.status == event.status or (attempt.status == pm.REFUNDED and event.status == ch.SUCCEEDED):
        _record_only(event, "duplicate", now)  # e.g. a query settled it before the notification came
        return Settlement("duplicate", True, attempt)
    if event.status == ch.FAILED:
        if attempt.status != pm.PENDING:
            _flag(event, "conflicting_event", "ChannelEventConflict", attempt_status=attempt.status)
            _record_only(event, "conflicting", now)
            return Settlement("conflicting", True, attempt)
        return _fail(event, attempt, now)
    return _succeed(event, attempt, now, idem, render)


def _attempt_condition(attempt: PaymentAttempt) -> Any:
    return PaymentAttempt.status == attempt.status


def _fail(event: ch.ChannelEvent, attempt: PaymentAttempt, now: datetime) -> Settlement | None:
    tx = Tx()
    _inbox(tx, event, "failed", now)
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
        on_fail=errors.conflict(_ATTEMPT_MOVED, "the attempt was settled meanwhile"),
    )
    note = (
        notifications.PAYMENT_FAILED,
        "支付失败",
        f"订单 {attempt.order_id} 的{CHANNEL_NAMES.get(attempt.channel, '')}支付未成功（{code}），请重新支付。",
    )
    order = load_order(attempt.order_id)
    if attempt.purpose == COLLECTION and order is not None:
        from . import collection

        note = collection.on_declined(tx, order, attempt, code, now) or note
    kind, title, body = note
    notifications.notify(
        tx, attempt.user_id, kind, title, body, attempt.order_id, f"payment:{attempt.attempt_id}:failed", now
    )
    if not _commit(tx):
        return None
    count("PaymentsFailed", channel=attempt.channel)
    logger.info("payment failed", extra={"attempt_id": attempt.attempt_id, "order_id": attempt.order_id, "code": code})
    attempt.status, attempt.failure_code = pm.FAILED, code
    order = load_order(attempt.order_id)
    return Settlement("failed", True, attempt, order.status if order else None)


def _commit(tx: Tx) -> bool:
    """Commit; False when a concurrent settle moved the attempt or order (re-read and retry)."""
    try:
        tx.commit()
    except errors.ApiError as err:
        if err.code in (
            _DUPLICATE,
            _ATTEMPT_MOVED,
            ORDER_MOVED,
            USER_MOVED,
            "state_changed",  # e.g. the points or credit limit moved under a reward: re-read
            "event_already_posted",
            "already_notified",
        ):
            return False
        raise
    return True


def _succeed(
    event: ch.ChannelEvent,
    attempt: PaymentAttempt,
    now: datetime,
    idem: IdemScope | None,
    render: Callable[[PaymentAttempt, str], Any] | None,
) -> Settlement | None:
    order = load_order(attempt.order_id)
    plan = _payable(order) if order is not None else None
    if plan is not None and plan.amount_fen != int(attempt.amount_fen):
        plan = None  # the amount owed changed (a partial return) since the attempt began
    tx = Tx()
    _inbox(tx, event, "succeeded", now)
    outcome = pm.APPLIED if plan is not None else pm.UNAPPLIED
    actions = [
        PaymentAttempt.status.set(pm.SUCCEEDED),
        PaymentAttempt.outcome.set(outcome),
        PaymentAttempt.updated_at.set(iso(now)),
        PaymentAttempt.settled_at.set(iso(now)),
        PaymentAttempt.failure_code.remove(),
    ]
    if event.channel_txn_id:
        actions.append(PaymentAttempt.channel_txn_id.set(event.channel_txn_id))
    tx.update(
        attempt, actions, condition=_attempt_condition(attempt), on_fail=errors.conflict(_ATTEMPT_MOVED, "settled")
    )
    ledger.post(
        tx,
        event_id=f"payment:{attempt.attempt_id}:in",
        kind="payment_received",
        at=now,
        legs=_money_in_legs(attempt),
        ref=attempt.order_id,
        insufficient=errors.conflict("insufficient_balance", "the wallet balance is too low for this order"),
    )
    order_status = order.status if order is not None else None
    if order is not None and plan is not None:
        _mark_paid(tx, order, attempt, now)
        order_status = o.PAID
        collected = attempt.purpose == COLLECTION
        notifications.notify(
            tx,
            attempt.user_id,
            notifications.PAYMENT_SUCCEEDED,
            "自动扣款成功" if collected else "支付成功",
            f"订单 {order.order_id} 已{'自动从' if collected else '通过'}{CHANNEL_NAMES.get(attempt.channel, '')}"
            f"{'扣款' if collected else '支付'} {yuan(int(attempt.amount_fen))}。",
            order.order_id,
            f"payment:{attempt.attempt_id}:succeeded",
            now,
        )
    if outcome == pm.UNAPPLIED:
        timers.schedule(tx, UNAPPLIED_REFUND, attempt.attempt_id, now)
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
        _refund_unapplied(timers.timer(UNAPPLIED_REFUND, attempt.attempt_id, now), now)
        attempt = get_attempt(attempt.attempt_id) or attempt
    return Settlement("succeeded", True, attempt, order_status)


def _mark_paid(tx: Tx, order: Order, attempt: PaymentAttempt, now: datetime) -> None:
    """awaiting_payment -> paid, recording the channel that paid; its expiry timer goes.
    先用后付: received/overdue -> paid with the credit given back (`collection.mark_paid`)."""
    if order.payment_method == o.BNPL:
        from . import collection

        collection.mark_paid(tx, order, attempt, now)
        return
    expires = order.payment_expires_at
    orders.transition(
        tx,
        order,
        o.PAID,
        now,
        f"channel:{attempt.channel}",
        allowed_from=(order.status,),
        actions=[Order.paid_at.set(iso(now)), Order.paid_channel.set(attempt.channel)],
        on_fail=errors.conflict(_ORDER_MOVED, "the order changed meanwhile"),
        verb="pay",
    )
    if expires:
        timers.cancel(tx, orders.CHECKOUT_EXPIRY, order.order_id, expires)


# --- refunds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundOutcome:
    status: str  # succeeded | pending | failed
    attempt: PaymentAttempt


def refund(
    attempt_id: str,
    amount_fen: int,
    refund_id: str,
    now: datetime,
    *,
    notify_user: bool = True,
    also: Callable[[Tx], None] | None = None,
) -> RefundOutcome:
    """Give back (part of) a succeeded attempt through its channel, once per refund id.

    The channel de-duplicates on `refund_id`; our ledger event and the attempt's
    conditional `refunded_fen` make the effect once-only on our side too.
    """
    attempt = get_attempt(attempt_id)
    if attempt is None:
        raise errors.not_found("payment_not_found", "no such payment")
    if _refund_recorded(attempt, refund_id):
        if also is not None:
            tx = Tx()
            also(tx)
            tx.commit()
        return RefundOutcome(ch.SUCCEEDED, attempt)
    already = int(attempt.refunded_fen or 0)
    if attempt.status not in (pm.SUCCEEDED, pm.REFUNDED) or already + amount_fen > int(attempt.amount_fen):
        raise errors.conflict("refund_exceeds_payment", "the refund is more than what is left of the payment")
    answer = channels.get(attempt.channel).refund(
        payment_ref(attempt), refund_id=refund_id, amount_fen=amount_fen, channel_txn_id=attempt.channel_txn_id or ""
    )
    if answer.status != ch.SUCCEEDED:
        logger.warning(
            "refund not completed",
            extra={"attempt_id": attempt_id, "status": answer.status, "code": answer.failure_code},
        )
        count("RefundsNotCompleted", channel=attempt.channel)
        return RefundOutcome(answer.status, attempt)
    total = already + amount_fen
    tx = Tx()
    tx.update(
        attempt,
        [
            PaymentAttempt.refunded_fen.set(total),
            PaymentAttempt.updated_at.set(iso(now)),
        ]
        + ([PaymentAttempt.status.set(pm.REFUNDED)] if total == int(attempt.amount_fen) else []),
        condition=PaymentAttempt.refunded_fen == already,
        on_fail=errors.conflict("state_changed", "the payment changed meanwhile; retry"),
    )
    ledger.post(
        tx,
        event_id=f"refund:{refund_id}",
        kind="payment_refunded",
        at=now,
        legs=_refund_legs(attempt, amount_fen),
        ref=attempt.order_id,
    )
    if also is not None:
        also(tx)
    if notify_user:
        notifications.notify(
            tx,
            attempt.user_id,
            notifications.PAYMENT_REFUNDED,
            "退款成功",
            f"订单 {attempt.order_id} 的 {yuan(amount_fen)} 已退回{CHANNEL_NAMES.get(attempt.channel, '')}。",
            attempt.order_id,
            f"refund:{refund_id}",
            now,
        )
    try:
        tx.commit()
    except errors.ApiError as err:
        if err.code != "event_already_posted":
            raise
        return RefundOutcome(ch.SUCCEEDED, get_attempt(attempt_id) or attempt)  # an earlier run recorded it
    count("PaymentsRefunded", channel=attempt.channel)
    return RefundOutcome(ch.SUCCEEDED, get_attempt(attempt_id) or attempt)


def _refund_recorded(attempt: PaymentAttempt, refund_id: str) -> bool:
    return ledger.leg_amount(PLATFORM, f"refund:{refund_id}", f"clearing_{attempt.channel}") is not None


def _refund_unapplied(timer: Timer, now: datetime) -> bool:
    """Refund a payment its order could not take; the timer goes with the refund's record."""
    attempt = get_attempt(timer.ref)
    if attempt is None or attempt.status == pm.REFUNDED:
        tx = Tx()
        timers.take(tx, timer)
        tx.commit()
        return True
    outcome = refund(
        attempt.attempt_id,
        int(attempt.amount_fen) - int(attempt.refunded_fen or 0),
        f"{attempt.attempt_id}-unapplied",
        now,
        also=lambda tx: timers.take(tx, timer),
    )
    return outcome.status == ch.SUCCEEDED


@jobs.job("refund_unapplied_payments")
def refund_unapplied_payments(now: datetime) -> dict[str, int]:
    """Retry refunds of payments that arrived for orders that could no longer take them."""
    return timers.sweep(UNAPPLIED_REFUND, now, lambda timer: _refund_unapplied(timer, now))


def _carry_out_refund(timer: Timer, now: datetime) -> bool:
    """A refund owed on a returned order, through the attempt that paid it."""
    try:
        owed = Refund.get(timer.ref, consistent_read=True)
    except DoesNotExist:
        owed = None
    if owed is None or owed.status != REFUND_PENDING:
        tx = Tx()
        timers.take(tx, timer)
        tx.commit()
        return False
    attempt = paid_attempt(owed.order_id)
    if attempt is None:
        logger.warning("refund has no payment to go back through", extra={"refund_id": owed.refund_id})
        count("RefundsWithoutPayment")
        return False

    def settle_refund(status: str) -> Callable[[Tx], None]:
        def add(tx: Tx) -> None:
            timers.take(tx, timer)
            tx.update(
                owed,
                [Refund.status.set(status), Refund.settled_at.set(iso(now))],
                condition=Refund.status == REFUND_PENDING,
                on_fail=errors.conflict("refund_settled", "the refund was settled meanwhile"),
            )

        return add

    outcome = refund(attempt.attempt_id, int(owed.amount_fen), owed.refund_id, now, also=settle_refund(ch.SUCCEEDED))
    if outcome.status == ch.FAILED:
        # Refused by the channel for good: recorded for people to resolve, not retried.
        tx = Tx()
        settle_refund(ch.FAILED)(tx)
        tx.commit()
        return False
    return outcome.status == ch.SUCCEEDED


@jobs.job("process_refunds")
def process_refunds(now: datetime) -> dict[str, int]:
    """Carry out refunds owed on returned orders through the channel that was paid."""
    return timers.sweep(REFUND_TIMER, now, lambda timer: _carry_out_refund(timer, now))


# --- notifications from channels --------------------------------------------------------


def handle_notification(path: str, headers: Mapping[str, str], body: bytes, now: datetime) -> ch.NotifyReply:
    """Verify, de-duplicate and settle one channel notification; answer as the channel expects."""
    name = channels.NOTIFY_PATHS[path]
    adapter = channels.get(name)
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        event = adapter.parse_notification(lowered, body, now)
    except ch.NotificationRejected as rejected:
        logger.warning("channel notification rejected", extra={"channel": name, "reason": rejected.reason})
        count("ChannelNotificationRejected", channel=name, reason=rejected.reason)
        return adapter.reply(False, rejected.reason)
    outcome = settle(event, now)
    return adapter.reply(outcome.ack, outcome.result)


def reconcile(attempt: PaymentAttempt, now: datetime) -> Settlement:
    """Ask the channel about a pending attempt and settle what it says (a timed-out charge)."""
    answer = channels.get(attempt.channel).query(payment_ref(attempt))
    if answer.status == ch.PENDING:
        return Settlement("ignored", True, attempt)
    event = ch.ChannelEvent(
        channel=attempt.channel,
        event_id=f"query:{attempt.attempt_id}:{answer.status}",
        attempt_id=attempt.attempt_id,
        channel_txn_id=answer.channel_txn_id,
        amount_fen=answer.amount_fen if answer.amount_fen is not None else None,
        currency=answer.currency,
        status=answer.status,
        failure_code=answer.failure_code,
    )
    return settle(event, now)


# --- pay now ------------------------------------------------------------------------------


@dataclass
class PaymentResult:
    attempt: PaymentAttempt
    order_status: str
    launch: dict[str, Any] | None = field(default=None)


def _stage_only(idem: IdemScope | None, result: PaymentResult) -> PaymentResult:
    if idem is not None:
        tx = Tx()
        idem.stage(tx, result)
        tx.commit()
    return result


def pay_now(
    user_id: str,
    order_id: str,
    channel: str,
    now: datetime,
    idem: IdemScope | None = None,
) -> PaymentResult:
    """Pay an order now through `channel`.

    Card: charges the default card now (a timed-out charge stays `pending` until the
    gateway's notification or a query settles it; it is never charged twice). Wallet:
    debits the cash balance in one transaction. Alipay / WeChat Pay: answers the launch
    data for the channel's app; the channel's notification settles it.
    """
    order = _owned_order(user_id, order_id)
    plan = _payable(order)
    if plan is None:
        raise errors.illegal_transition("order", order.status, "pay")
    open_attempts = [a for a in attempts_for(order_id) if a.status == pm.PENDING]
    for pending in open_attempts:
        if pending.channel != ch.CARD:
            continue
        settled = reconcile(get_attempt(pending.attempt_id) or pending, now)
        attempt = settled.attempt or pending
        if settled.result == "ignored":
            # Still in flight at the gateway: answer it rather than charge again.
            return _stage_only(idem, PaymentResult(attempt, order.status))
        if settled.result == "succeeded" and attempt.outcome == pm.APPLIED:
            return _stage_only(idem, PaymentResult(attempt, o.PAID))
    order = _owned_order(user_id, order_id)
    plan = _payable(order)
    if plan is None:
        raise errors.illegal_transition("order", order.status, "pay")
    if channel == ch.WALLET:
        return _pay_from_wallet(order, plan, now, idem)
    if channel == ch.CARD:
        return _pay_by_card(order, plan, now, idem)
    return _launch(order, plan, channel, now, idem, open_attempts)


def _pay_from_wallet(order: Order, plan: Plan, now: datetime, idem: IdemScope | None) -> PaymentResult:
    attempt = new_attempt(order.order_id, order.user_id, ch.WALLET, plan.amount_fen, "pay_now", now)
    answer = channels.get(ch.WALLET).charge(payment_ref(attempt))
    tx = Tx()
    save_attempt(tx, attempt)
    event = ch.ChannelEvent(
        ch.WALLET,
        f"wallet:{attempt.attempt_id}",
        attempt.attempt_id,
        answer.channel_txn_id,
        plan.amount_fen,
        attempt.currency,
        ch.SUCCEEDED,
    )
    # Created and settled at once: the attempt is written as succeeded in this transaction.
    attempt.status, attempt.outcome, attempt.channel_txn_id = pm.SUCCEEDED, pm.APPLIED, answer.channel_txn_id
    attempt.settled_at = iso(now)
    _inbox(tx, event, "succeeded", now)
    ledger.post(
        tx,
        event_id=f"payment:{attempt.attempt_id}:in",
        kind="payment_received",
        at=now,
        legs=_money_in_legs(attempt),
        ref=order.order_id,
        insufficient=errors.conflict("insufficient_balance", "the wallet balance is too low for this order"),
    )
    _mark_paid(tx, order, attempt, now)
    notifications.notify(
        tx,
        order.user_id,
        notifications.PAYMENT_SUCCEEDED,
        "支付成功",
        f"订单 {order.order_id} 已通过钱包余额支付 {yuan(plan.amount_fen)}。",
        order.order_id,
        f"payment:{attempt.attempt_id}:succeeded",
        now,
    )
    result = PaymentResult(attempt, o.PAID)
    if idem is not None:
        idem.stage(tx, result)
    try:
        tx.commit()
    except errors.ApiError as err:
        if err.code in (ORDER_MOVED, USER_MOVED):
            raise errors.conflict("state_changed", "the order changed meanwhile; reload and retry") from err
        raise
    count("PaymentsSucceeded", channel=ch.WALLET)
    return result


def _pay_by_card(order: Order, plan: Plan, now: datetime, idem: IdemScope | None) -> PaymentResult:
    user = accounts.get(order.user_id)
    card = accounts.default_card(user)
    if card is None:
        raise errors.unprocessable("no_bank_card", "bind a bank card to pay by card")
    attempt = new_attempt(
        order.order_id,
        order.user_id,
        ch.CARD,
        plan.amount_fen,
        "pay_now",
        now,
        card_token=card.gateway_token,
        card_last4=card.last4,
    )
    tx = Tx()
    save_attempt(tx, attempt)
    tx.commit()  # recorded before the gateway is asked: a crash leaves a pending attempt to query
    answer = channels.get(ch.CARD).charge(payment_ref(attempt))
    if answer.status == ch.PENDING:
        logger.info("card charge pending", extra={"attempt_id": attempt.attempt_id, "order_id": order.order_id})
        return _stage_only(idem, PaymentResult(attempt, order.status))
    event = ch.ChannelEvent(
        ch.CARD,
        f"charge:{attempt.attempt_id}",
        attempt.attempt_id,
        answer.channel_txn_id,
        answer.amount_fen,
        answer.currency,
        answer.status,
        answer.failure_code,
    )
    if answer.status == ch.FAILED:
        settle(event, now)
        raise errors.ApiError(402, "payment_declined", f"the card was declined ({answer.failure_code or 'declined'})")
    outcome = settle(event, now, idem=idem, render=lambda a, status: PaymentResult(a, status))
    status = outcome.order_status
    if status is None:  # the gateway's notification settled it first: answer what that did
        status = (load_order(order.order_id) or order).status
    result = PaymentResult(outcome.attempt or attempt, status)
    if idem is not None and idem.staged is None:
        _stage_only(idem, result)
    return result


def _launch(
    order: Order, plan: Plan, channel: str, now: datetime, idem: IdemScope | None, open_attempts: list[PaymentAttempt]
) -> PaymentResult:
    reusable = [a for a in open_attempts if a.channel == channel and int(a.amount_fen) == plan.amount_fen]
    tx = Tx()
    if reusable:
        attempt = reusable[-1]  # same out_trade_no: the channel itself will not take it twice
    else:
        attempt = new_attempt(order.order_id, order.user_id, channel, plan.amount_fen, "pay_now", now)
        save_attempt(tx, attempt)
    deadline = order.payment_expires_at if order.status == o.AWAITING_PAYMENT else None
    launch = channels.get(channel).start_payment(payment_ref(attempt, deadline))
    result = PaymentResult(attempt, order.status, launch)
    if idem is not None:
        idem.stage(tx, result)
    tx.commit()
    return result


def start_channel_payment(
    channel: str, *, order_id: str, user_id: str, amount_fen: int, expires_at: str | None = None
) -> dict[str, Any]:
    """Checkout's entry: the launch data for an order awaiting a channel payment until `expires_at`."""
    from ..clock import clock

    if channel not in ch.CHANNELS:
        raise ValueError(f"unknown channel {channel}")
    if channel in (ch.CARD, ch.WALLET):
        return {"channel": channel, "amount_fen": amount_fen, "pay_now": f"/v1/orders/{order_id}/payments"}
    now = clock.now()
    open_attempts = [
        a
        for a in attempts_for(order_id)
        if a.status == pm.PENDING and a.channel == channel and int(a.amount_fen) == amount_fen
    ]
    if open_attempts:
        attempt = open_attempts[-1]
    else:
        attempt = new_attempt(order_id, user_id, channel, amount_fen, "checkout", now)
        tx = Tx()
        save_attempt(tx, attempt)
        tx.commit()
    data = channels.get(channel).start_payment(payment_ref(attempt, expires_at))
    return {**data, "amount_fen": amount_fen}
