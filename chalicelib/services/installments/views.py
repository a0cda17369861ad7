"""Reading an order's schedule: each part's status as the consumer sees it, and the payoff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ...clock import parse_iso
from ...models import orders as o
from ...models.orders import Order
from .. import orders
from ..payments.payable import load_order
from . import arithmetic as ar
from . import quotes
from .state import PartState, PlanState, payoff_fen, plan_of

SCHEDULE_ERRORS = orders.NOT_FOUND_ERRORS


@dataclass(frozen=True)
class PartRow:
    part: PartState
    status: str  # as shown: a stored status, or `due` / `overdue` for the current part


@dataclass(frozen=True)
class Schedule:
    order: Order
    plan: PlanState
    parts: list[PartRow]
    payoff_fen: int


def single_plan(order: Order) -> PlanState:
    """A single payment shown as a plan of one part (its due date once received)."""
    total = int(order.total_fen) - int(order.refunded_fen or 0)
    if order.status in (o.PAID, o.COMPLETED) or (order.paid_at and order.status != o.OVERDUE):
        status = ar.PartStatus.PAID
    elif order.status in (o.CANCELLED, o.RETURNED):
        status = ar.PartStatus.REFUNDED
    else:
        status = ar.PartStatus.SCHEDULED
    part = PartState(1, max(total, 0), 0, str(status), order.due_at, order.paid_at)
    checksum = quotes.quote(max(int(order.total_fen), 1), 1).schedule_checksum
    return PlanState(1, 0, quotes.CONSUMER, 0, checksum, (part,))


def shown_status(order: Order, plan: PlanState, part: PartState, now: datetime) -> str:
    """The current part is `overdue` while its order is, `due` once its date has come."""
    current = plan.current
    if current is None or part.seq != current.seq:
        return part.status
    if order.status == o.OVERDUE:
        return str(ar.PartStatus.OVERDUE)
    if part.due_at and parse_iso(part.due_at) <= now:
        return str(ar.PartStatus.DUE)
    return part.status


def schedule(order: Order, now: datetime) -> Schedule:
    plan = plan_of(order) or single_plan(order)
    rows = [PartRow(p, shown_status(order, plan, p, now)) for p in plan.schedule]
    # Waiting on a risk operator or on a return request's answer still owes what is unpaid.
    owes = order.status in (
        o.RECEIVED,
        o.OVERDUE,
        o.PLACED,
        o.SHIPPED,
        o.AWAITING_CONFIRMATION,
        o.RISK_REVIEW,
        o.RETURN_REQUESTED,
    )
    payoff = payoff_fen(order, now) if plan_of(order) else int(order.amount_due_fen or 0)
    return Schedule(order, plan, rows, (payoff or 0) if owes else 0)


def any_schedule(order_id: str, now: datetime) -> Schedule:
    """Any order's schedule (support): a missing order is a 404."""
    found = load_order(order_id)
    if found is None:
        raise orders.order_not_found()
    return schedule(found, now)


def own_schedule(user_id: str, order_id: str, now: datetime) -> Schedule:
    """The caller's order's schedule (another user's order is a 404)."""
    return schedule(orders.get_own(user_id, order_id), now)
