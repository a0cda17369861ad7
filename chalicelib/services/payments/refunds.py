"""Refunds through the channel that was paid, once per refund id, and the two sweepers that
carry them out: `refund_unapplied_payments` (money that arrived for an order that could no
longer take it) and `process_refunds` (refunds owed on returned orders, set by fulfilment).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from ... import channels, errors, ledger, timers
from ...channels import base as ch
from ...clock import iso
from ...db import Tx
from ...ledger import PLATFORM
from ...models import payments as pm
from ...models.aftersale import PENDING as REFUND_PENDING
from ...models.aftersale import Refund
from ...models.payments import PaymentAttempt
from ...models.timers import Timer
from ...money import price
from ...observability import count, logger
from .. import notifications
from .attempts import CHANNEL_NAMES, get_attempt, paid_attempt, payment_ref, refund_legs

REFUND_ERRORS = errors.raises(
    not_found=["payment_not_found"], conflict=["refund_exceeds_payment", "refund_settled", "state_changed"]
)


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
        on_fail=errors.state_changed("the payment changed meanwhile; retry"),
    )
    ledger.post(
        tx,
        event_id=f"refund:{refund_id}",
        kind="payment_refunded",
        at=now,
        legs=refund_legs(attempt, amount_fen),
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
            f"订单 {attempt.order_id} 的 {price(amount_fen)} 已退回{CHANNEL_NAMES.get(attempt.channel, '')}。",
            attempt.order_id,
            f"refund:{refund_id}",
            now,
        )
    try:
        tx.commit()
    except errors.DomainError:
        if not _refund_recorded(attempt, refund_id):
            raise
        return RefundOutcome(ch.SUCCEEDED, get_attempt(attempt_id) or attempt)  # an earlier run recorded it
    count("PaymentsRefunded", channel=attempt.channel)
    return RefundOutcome(ch.SUCCEEDED, get_attempt(attempt_id) or attempt)


def _refund_recorded(attempt: PaymentAttempt, refund_id: str) -> bool:
    return ledger.leg_amount(PLATFORM, f"refund:{refund_id}", ledger.clearing(attempt.channel)) is not None


def refund_unapplied(timer: Timer, now: datetime) -> bool:
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


def refund_unapplied_payments(now: datetime) -> dict[str, int]:
    """Retry refunds of payments that arrived for orders that could no longer take them."""
    return timers.sweep(timers.UNAPPLIED_REFUND, now, lambda timer: refund_unapplied(timer, now))


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
    attempt = get_attempt(owed.attempt_id) if owed.attempt_id else paid_attempt(owed.order_id)
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


def process_refunds(now: datetime) -> dict[str, int]:
    """Carry out refunds owed on returned orders through the channel that was paid."""
    return timers.sweep(timers.REFUND, now, lambda timer: _carry_out_refund(timer, now))
