"""A monthly bill paid in one charge, applied to the parts it pays (SPEC 'Installments': bills).

The bill payment is one `PaymentAttempt` (purpose `bill`, `order_id` the bill's ref, one
ref per user and month, so attempt n of a bill is created once) whose `lines` lock the parts
it pays and their amounts when it starts. When its money arrives (`settle`):
- one transaction records it: the attempt succeeded, the channel's event in the inbox, and
  `payment:<attempt>:in` holding the whole amount in platform `bill_payments`;
- then each line is resolved once, in its own transaction: `bill:<attempt>:<order>:<seq>`
  moves its amount from `bill_payments` to `consumer_payments` beside the part's payment
  (`repayment.mark_paid`, the same rules as paying that part now), or, when the part can no
  longer take it (paid meanwhile by the auto-debit or pay-next, paused by a return, its
  amount changed), the line is `excluded` and its amount refunded through the channel
  (refund id per line: the channel and our ledger refund it once).
The marker event is the line's exactly-once guard: two resolvers race on its key. A crash
between the steps is picked up by the attempt's `bill_payment` timer
(`bill_payments.py`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ... import errors, ledger
from ...channels import base as ch
from ...db import Tx
from ...models import payments as pm
from ...models.orders import Order
from ...models.payments import PaymentAttempt
from ...money import price
from ...observability import count, logger
from .. import notifications
from . import repayment
from .attempts import BILL, CHANNEL_NAMES
from .payable import NEXT_PART, load_order
from .refunds import refund

# What became of a line.
PENDING = "pending"  # the payment has not succeeded (yet)
APPLIED = "applied"  # it paid its part
REFUNDED = "refunded"  # its part could not take it: refunded
REFUND_PENDING = "refund_pending"  # excluded; the channel has not confirmed the refund yet
_APPLIED_KIND, _EXCLUDED_KIND = "bill_part_applied", "bill_part_excluded"
RESOLVE_TRIES = 3
# Resolvers of one line racing without end (each lost its transaction to the other).
RESOLVE_ERRORS = errors.raises(unavailable=["temporarily_unavailable"])


@dataclass(frozen=True)
class Line:
    order_id: str
    seq: int
    amount_fen: int
    due_at: str

    @property
    def key(self) -> str:
        return f"{self.order_id}:{self.seq}"


def bill_ref(user_id: str, month: str) -> str:
    """The `order_id` a user's bill payments of `month` are numbered under."""
    return f"bill#{month}#{user_id}"


def month_of(attempt: PaymentAttempt) -> str:
    return attempt.order_id.split("#")[1]


def lines_of(attempt: PaymentAttempt) -> list[Line]:
    return [
        Line(str(x["order_id"]), int(x["seq"]), int(x["amount_fen"]), str(x["due_at"])) for x in attempt.lines or []
    ]


def lines_json(lines: list[Line]) -> list[dict[str, Any]]:
    return [asdict(line) for line in lines]


def _marker(attempt: PaymentAttempt, line: Line) -> str:
    return f"bill:{attempt.attempt_id}:{line.order_id}:{line.seq}"


def _refund_id(attempt: PaymentAttempt, line: Line) -> str:
    """One refund id per line (≤ 32 characters: any channel's refund request number)."""
    return "rb" + hashlib.sha256(_marker(attempt, line).encode()).hexdigest()[:30]


def _resolved_kind(attempt: PaymentAttempt, line: Line) -> str | None:
    """How the line was resolved (its marker event's kind), None while it is not."""
    return ledger.posted_kind(ledger.PLATFORM, _marker(attempt, line), ledger.BILL_PAYMENTS)


def _takes(order: Order | None, attempt: PaymentAttempt, line: Line) -> bool:
    """The line's part is still the one its order owes now, for the amount locked."""
    return (
        order is not None
        and order.user_id == attempt.user_id
        and repayment.collectable(order)
        and int(order.amount_due_fen) == line.amount_fen
        and order.due_at == line.due_at
    )


def _part_payment(attempt: PaymentAttempt, line: Line) -> PaymentAttempt:
    """The bill payment as `mark_paid` sees it for one part: its channel, this line's amount."""
    return PaymentAttempt(
        attempt.attempt_id,
        order_id=line.order_id,
        attempt_no=attempt.attempt_no,
        user_id=attempt.user_id,
        channel=attempt.channel,
        purpose=BILL,
        amount_fen=line.amount_fen,
        currency=attempt.currency,
        status=pm.SUCCEEDED,
        part_seq=line.seq,
        part_scope=NEXT_PART,
        created_at=attempt.created_at,
        updated_at=attempt.updated_at,
    )


def _resolve_once(attempt: PaymentAttempt, line: Line, now: datetime) -> str:
    """Apply the line to its part, or exclude it: one transaction, once (the marker's key)."""
    for _ in range(RESOLVE_TRIES):
        order = load_order(line.order_id)
        tx = Tx()
        applies = _takes(order, attempt, line)
        ledger.post(
            tx,
            event_id=_marker(attempt, line),
            kind=_APPLIED_KIND if applies else _EXCLUDED_KIND,
            at=now,
            legs=ledger.bill_part_resolved(line.amount_fen),
            ref=line.order_id,
        )
        if applies:
            assert order is not None
            repayment.mark_paid(tx, order, _part_payment(attempt, line), now)
        try:
            tx.commit()
        except errors.DomainError as err:
            kind = _resolved_kind(attempt, line)
            if kind is not None:
                return kind  # another resolver got there first
            if err.retryable:
                continue
            raise
        if not applies:
            logger.info(
                "bill part excluded",
                extra={"attempt_id": attempt.attempt_id, "order_id": line.order_id, "seq": line.seq},
            )
            count("BillPartsExcluded")
        return _APPLIED_KIND if applies else _EXCLUDED_KIND
    raise errors.unavailable("temporarily_unavailable", "the bill is being paid concurrently; retry")


def resolve(attempt: PaymentAttempt, now: datetime) -> dict[str, str]:
    """Resolve every line of a succeeded bill payment (each once); answers each line's outcome
    by `Line.key`. Safe to run again: resolved lines are read, refunds are once per line."""
    if attempt.status not in (pm.SUCCEEDED, pm.REFUNDED):
        return {line.key: PENDING for line in lines_of(attempt)}
    outcomes: dict[str, str] = {}
    for line in lines_of(attempt):
        kind = _resolved_kind(attempt, line) or _resolve_once(attempt, line, now)
        if kind == _APPLIED_KIND:
            outcomes[line.key] = APPLIED
            continue
        done = refund(attempt.attempt_id, line.amount_fen, _refund_id(attempt, line), now)
        outcomes[line.key] = REFUNDED if done.status == ch.SUCCEEDED else REFUND_PENDING
    return outcomes


def settled(outcomes: dict[str, str]) -> bool:
    """Nothing is left to do for the bill payment (each line applied or refunded)."""
    return all(o in (APPLIED, REFUNDED) for o in outcomes.values())


def record_success(tx: Tx, attempt: PaymentAttempt, now: datetime) -> None:
    """The bill payment's money arrived (in the settling transaction `tx`): held for its lines,
    the user told. The lines are resolved after this commits (`resolve`)."""
    amount = int(attempt.amount_fen)
    ledger.post(
        tx,
        event_id=f"payment:{attempt.attempt_id}:in",
        kind="payment_received",
        at=now,
        legs=ledger.bill_money_in(attempt.channel, amount),
        ref=attempt.order_id,
    )
    notifications.notify(
        tx,
        attempt.user_id,
        notifications.PAYMENT_SUCCEEDED,
        "账单还款成功",
        f"{month_of(attempt)} 账单已通过{CHANNEL_NAMES.get(attempt.channel, '')}还款 {price(amount)}。",
        None,
        f"payment:{attempt.attempt_id}:succeeded",
        now,
    )
