"""The order lifecycle: every status an order can be in, every event that moves it, and the
table `(status, event) -> status` (docs/lifecycle.md renders it: `make lifecycle`).

`transition` is the one way an order's status changes. It looks the step up in the table,
refuses an illegal one with 409 `illegal_transition`, and writes the new status with the
condition that the order is still in the status it was read in (a legal from-state of the
event), appending the step to the order's history; a lost race is also a 409.

A few rows hold only for one way of paying (`only`): a paid channel order is cancelled
(and refunded) before shipment, a paid 先用后付 order has long been received. The after-sale
pause ends back where the order was (`resume`, `settle_return`): those rows list every
status a pause can return to, and the caller names the one (`to=`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from ... import errors, timers
from ...clock import iso
from ...db import Tx
from ...models.orders import BNPL, Order, obligated
from ...models.orders import OrderStatus as OrderStatus  # defined with the model; the lifecycle's own
from ..webhooks import order_events

S = OrderStatus
# An event the order's status does not allow (the write's condition failed).
TRANSITION_ERRORS = errors.raises(conflict=["illegal_transition"])
INITIAL = S.AWAITING_CONFIRMATION  # a checkout creates its orders here (services/checkout.py)


class OrderEvent(StrEnum):
    """What happens to an order; `transition` takes one."""

    CONFIRM = "confirm"  # 先用后付 confirmed: placed, credit reserved (services/confirmation.py)
    HOLD_FOR_REVIEW = "hold_for_review"  # 先用后付 confirmed, held for a risk operator
    CONFIRM_CHANNEL = "confirm_channel"  # a channel order confirmed: its payment is awaited
    APPROVE = "approve"  # a risk operator placed a held order (services/risk/reviews.py)
    DECLINE = "decline"  # the risk rules or an operator said no: the checkout is cancelled
    REVIEW_TIMEOUT = "review_timeout"  # nobody decided a held order in time
    EXPIRE = "expire"  # not confirmed, or not paid, in time (services/expiry.py)
    CANCEL = "cancel"  # the buyer cancels before shipment (services/orders/orders.py)
    PAY = "pay"  # a channel order paid, or 先用后付 paid back (services/payments)
    PAY_PART = "pay_part"  # an installment part paid, more to come (services/installments)
    MARK_OVERDUE = "mark_overdue"  # a collection charge was declined
    SHIP = "ship"  # the merchant ships (services/fulfilment.py)
    RECEIVE = "receive"  # receipt confirmed, by the buyer or after the auto-confirm wait
    COMPLETE = "complete"  # the return window closed and nothing is owed
    REQUEST_RETURN = "request_return"  # an after-sale request pauses the order (services/aftersale)
    RETURN_STEP = "return_step"  # the request moves on: answered, goods on their way, arrived
    ESCALATE = "escalate"  # the buyer asks the platform to step in (a dispute)
    RESUME = "resume"  # the request ends with nothing returned: back where the order was
    SETTLE_RETURN = "settle_return"  # goods returned: refunded, back where it was, paid or returned
    # goods a dispute refunded on their way back arrive: back to stock, the status unchanged
    GOODS_BACK = "goods_back"


@dataclass(frozen=True)
class Step:
    """One row of the table: `event` moves an order from `frm` to `to` (`only`: for orders
    paid this way, "bnpl" or "channel")."""

    frm: OrderStatus
    event: OrderEvent
    to: OrderStatus
    only: str | None = None


E = OrderEvent
BNPL_ONLY, CHANNEL_ONLY = "bnpl", "channel"
# Where the after-sale pause can begin, and so where it can end (a rejected request's
# escalation pauses the order from wherever it stands by then, except a wholly returned one:
# nothing is left to dispute, and a dispute decided for the buyer would refund again).
_RETURNABLE = (S.SHIPPED, S.RECEIVED, S.OVERDUE, S.PAID)
_RESUMABLE = (*_RETURNABLE, S.COMPLETED)

TABLE: tuple[Step, ...] = (
    Step(S.AWAITING_CONFIRMATION, E.CONFIRM, S.PLACED),
    Step(S.AWAITING_CONFIRMATION, E.HOLD_FOR_REVIEW, S.RISK_REVIEW),
    Step(S.AWAITING_CONFIRMATION, E.CONFIRM_CHANNEL, S.AWAITING_PAYMENT),
    Step(S.RISK_REVIEW, E.APPROVE, S.PLACED),
    Step(S.AWAITING_CONFIRMATION, E.DECLINE, S.CANCELLED),
    Step(S.RISK_REVIEW, E.DECLINE, S.CANCELLED),
    Step(S.RISK_REVIEW, E.REVIEW_TIMEOUT, S.CANCELLED),
    Step(S.AWAITING_CONFIRMATION, E.EXPIRE, S.CANCELLED),
    Step(S.AWAITING_PAYMENT, E.EXPIRE, S.CANCELLED),
    Step(S.AWAITING_CONFIRMATION, E.CANCEL, S.CANCELLED),
    Step(S.AWAITING_PAYMENT, E.CANCEL, S.CANCELLED),
    Step(S.PLACED, E.CANCEL, S.CANCELLED),
    Step(S.PAID, E.CANCEL, S.CANCELLED, CHANNEL_ONLY),
    Step(S.AWAITING_PAYMENT, E.PAY, S.PAID, CHANNEL_ONLY),
    Step(S.PLACED, E.SHIP, S.SHIPPED, BNPL_ONLY),
    Step(S.PAID, E.SHIP, S.SHIPPED, CHANNEL_ONLY),
    Step(S.SHIPPED, E.RECEIVE, S.RECEIVED),
    Step(S.RECEIVED, E.PAY, S.PAID, BNPL_ONLY),
    Step(S.OVERDUE, E.PAY, S.PAID, BNPL_ONLY),
    Step(S.RECEIVED, E.PAY_PART, S.RECEIVED),
    Step(S.OVERDUE, E.PAY_PART, S.RECEIVED),
    Step(S.RECEIVED, E.MARK_OVERDUE, S.OVERDUE),
    Step(S.PAID, E.COMPLETE, S.COMPLETED, BNPL_ONLY),
    Step(S.RECEIVED, E.COMPLETE, S.COMPLETED, CHANNEL_ONLY),
    *(Step(s, E.REQUEST_RETURN, S.RETURN_REQUESTED) for s in _RETURNABLE),
    Step(S.RETURN_REQUESTED, E.RETURN_STEP, S.RETURN_REQUESTED),
    *(Step(s, E.ESCALATE, S.RETURN_REQUESTED) for s in (S.RETURN_REQUESTED, *_RESUMABLE)),
    *(Step(S.RETURN_REQUESTED, E.RESUME, s) for s in _RESUMABLE),
    *(Step(S.RETURN_REQUESTED, E.SETTLE_RETURN, s) for s in (*_RESUMABLE, S.RETURNED)),
    # Wherever the refund left the order, or the order has gone since (nothing moves but stock).
    *(Step(s, E.GOODS_BACK, s) for s in (*_RESUMABLE, S.RETURN_REQUESTED, S.RETURNED)),
)

# The words of an illegal step's message ("cannot <verb> an order that is <status>").
VERBS: dict[OrderEvent, str] = {
    E.CONFIRM: "confirm",
    E.HOLD_FOR_REVIEW: "confirm",
    E.CONFIRM_CHANNEL: "confirm",
    E.APPROVE: "approve",
    E.DECLINE: "cancel",
    E.REVIEW_TIMEOUT: "cancel",
    E.EXPIRE: "cancel",
    E.CANCEL: "cancel",
    E.PAY: "pay",
    E.PAY_PART: "pay a part of",
    E.MARK_OVERDUE: "mark overdue",
    E.SHIP: "ship",
    E.RECEIVE: "confirm receipt of",
    E.COMPLETE: "complete",
    E.REQUEST_RETURN: "return",
    E.RETURN_STEP: "change",
    E.ESCALATE: "escalate",
    E.RESUME: "end the after-sale request of",
    E.SETTLE_RETURN: "approve the return of",
    E.GOODS_BACK: "take back the refunded goods of",
}


def _applies(step: Step, payment_method: str) -> bool:
    return step.only is None or (step.only == BNPL_ONLY) == (payment_method == BNPL)


def targets(status: str, event: OrderEvent, payment_method: str) -> tuple[OrderStatus, ...]:
    """Where `event` may take an order in `status` paid by `payment_method` (none: illegal)."""
    return tuple(s.to for s in TABLE if s.frm == status and s.event == event and _applies(s, payment_method))


def legal_from(event: OrderEvent) -> frozenset[OrderStatus]:
    """The statuses from which `event` is legal for some way of paying."""
    return frozenset(s.frm for s in TABLE if s.event == event)


def history_entry(
    status: str, at: datetime, actor: str, note: str | None = None, event: str | None = None
) -> dict[str, str]:
    """One step of an order's history; `event` names it where the status alone does not
    (the after-sale steps; HistoryView derives the others from the status)."""
    entry = {"status": str(status), "at": iso(at), "actor": actor}
    if note:
        entry["note"] = note
    if event:
        entry["event"] = event
    return entry


def transition(
    tx: Tx,
    order: Order,
    event: OrderEvent,
    now: datetime,
    actor: str,
    *,
    to: str | None = None,
    actions: Sequence[Action] = (),
    condition: Condition | None = None,
    on_fail: errors.DomainError | None = None,
    note: str | None = None,
    verb: str | None = None,
    history_event: str | None = None,
) -> None:
    """Move `order` by `event` in `tx`, from the status it was read in, appending history.

    `to` names the target where the table gives several (the end of an after-sale pause).
    The in-memory order is updated too, so the caller can render the result.
    """
    allowed = targets(order.status, event, order.payment_method)
    target = allowed[0] if len(allowed) == 1 and to is None else to
    if target is None or target not in allowed:
        raise errors.illegal_transition("order", order.status, verb or VERBS[event])
    target = OrderStatus(target)
    history = [*(order.history or []), history_entry(target, now, actor, note, history_event)]
    # The status it was read in is one the event is legal from: the write holds only if it
    # still is (and nothing else moved it meanwhile, the history being rewritten whole).
    # The history as read is that guard: a status left and come back to (a return asked and
    # settled meanwhile) has grown it, so a write from the older read cannot undo that return.
    guard = (Order.status == order.status) & (Order.history == (order.history or []))
    if condition is not None:
        guard &= condition
    # The sparse obligation index follows the status in the same write (orders/obligations.py).
    obliged = obligated(target, order.payment_method)
    mark = Order.obligation.set(f"obl#{timers.shard_of(order.order_id):02d}") if obliged else Order.obligation.remove()
    changes = [Order.status.set(target), Order.updated_at.set(iso(now)), Order.history.set(history), mark, *actions]
    tx.update(
        order,
        changes,
        condition=guard,
        on_fail=on_fail or errors.Conflict("illegal_transition", f"the order is no longer {order.status}; reload"),
    )
    order_events.order_transition(tx, order, target, changes, now)
    order.status, order.history, order.updated_at = target, history, iso(now)
