"""Which orders are payable, from which status and for how much (`plan`), and loading them.

Channel orders are paid from `awaiting_payment` for their total; 先用后付 orders from
`received` or `overdue` for what they still owe (`amount_due_fen`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from ... import errors
from ...models import orders as o
from ...models.orders import Order
from ...models.payments import PaymentAttempt
from ..installments import state as installments

# A settlement's transaction lost a race on the order or the user: re-read and retry.
ORDER_MOVED = "order_changed"
USER_MOVED = "account_changed"
MOVED_ERRORS = errors.raises(conflict=[ORDER_MOVED, USER_MOVED])
LOAD_ERRORS = errors.raises(not_found=["order_not_found"])


def order_moved() -> errors.DomainError:
    return errors.moved(ORDER_MOVED, "the order changed meanwhile")


def user_moved(detail: str = "the account changed meanwhile") -> errors.DomainError:
    return errors.moved(USER_MOVED, detail)


@dataclass(frozen=True)
class Plan:
    """How an order is paid: from which statuses, and how much."""

    from_statuses: tuple[str, ...]
    amount_fen: int


def plan(order: Order) -> Plan | None:
    if order.payment_method != o.BNPL:
        return Plan((o.AWAITING_PAYMENT,), int(order.total_fen))
    # In the window (received) or after a failed collection (overdue); a pending return
    # pauses payment, and a fully returned order owes nothing.
    if int(order.amount_due_fen or 0) <= 0:
        return None
    return Plan((o.RECEIVED, o.OVERDUE), int(order.amount_due_fen))


NEXT_PART = "next_part"
ALL = "all"


def payable(order: Order, *, scope: str = NEXT_PART, now: datetime | None = None) -> Plan | None:
    """The plan, if the order is payable right now. An installment order pays its current part,
    or with `scope` ALL everything left (the payoff at `now`)."""
    how = plan(order)
    if how is None or order.status not in how.from_statuses:
        return None
    if scope == ALL and now is not None and (payoff := installments.payoff_fen(order, now)) is not None:
        return Plan(how.from_statuses, payoff)
    return how


def part_of(order: Order, scope: str) -> tuple[int, str] | None:
    """What an attempt started now pays: (the current part's seq, `scope`); None for a single
    payment (or a plan with nothing left)."""
    seq = installments.part_tag(order).get("part")
    return (seq, scope) if seq is not None else None


def takes(order: Order | None, attempt: PaymentAttempt, now: datetime) -> bool:
    """Whether the money of a succeeded `attempt` pays `order` now: the order is payable and
    owes exactly what the attempt was for. An installment attempt pays the part it recorded
    (`part_seq`) and only while that part is the one owed, for the amount (or payoff) it
    quoted; paid meanwhile another way, its money is refunded, never applied to the next part."""
    plan = payable(order) if order is not None else None
    if order is None or plan is None:
        return False
    amount = int(attempt.amount_fen)
    if attempt.part_seq is not None:
        if installments.part_tag(order).get("part") != int(attempt.part_seq):
            return False
        if attempt.part_scope == ALL:
            return installments.payoff_fen(order, now) == amount
        return plan.amount_fen == amount
    # Recorded before attempts named their part: the amount says what it pays.
    if plan.amount_fen != amount:
        plan = payable(order, scope=ALL, now=now)  # an installment order paid off at once
    return plan is not None and plan.amount_fen == amount


def load_order(order_id: str) -> Order | None:
    try:
        return Order.get(order_id, consistent_read=True)
    except DoesNotExist:
        return None


def owned_order(user_id: str, order_id: str) -> Order:
    order = load_order(order_id)
    if order is None or order.user_id != user_id:
        raise errors.not_found("order_not_found", "no such order")
    return order
