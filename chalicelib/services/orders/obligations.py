"""Nothing owed is forgotten: the timers an order needs, derived in one place from its state.

`needed(order)` is a pure function from an order to the timers it must have (kind, due
time, data). Every transition that can leave an order waiting calls `rearm` in its own
transaction: every after-sale step (a request, its answer, the goods' way back, a
closed request, a dispute and its decision: services/aftersale) and a pending charge
settling without paying the order. Sweepers drop a timer whose order is paused (a return request is open); the
decision that ends the pause re-arms it here, at the time it always had (a time already
past is simply due at the next run).

The keys are deterministic (kind, order, time), so re-arming a timer that is still set
writes the same item: a no-op. While an after-sale request is open the order needs
only the timer of the wait it is in (`aftersale_timer` at `aftersale_due_at`, set by
services/aftersale): the merchant's answer, the goods shipped back, their arrival.
Collection keeps its own check timers while a charge is in flight; a second timer of a
kind for a round already charged is dropped as `round_done`.

`check_obligations` (daily) walks every order that still owes money or awaits receipt by
the sparse `by_obligation` index and reports (metric `ObligationWithoutTimer`, order ids
in an error log) any that has no live timer that will act on it. It never fixes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ... import timers
from ...clock import parse_iso
from ...config import settings
from ...db import Tx
from ...models import orders as o
from ...models.orders import Order
from ...observability import count, logger
from ..installments import state as installments
from .orders import expiry_deadline

# The kinds that act on what an order owes: confirm receipt, or charge the money due.
ACTING: dict[str, tuple[str, ...]] = {
    o.SHIPPED: (timers.AUTO_CONFIRM,),
    o.RECEIVED: (timers.PAYMENT_DUE, timers.COLLECTION_RETRY),
    o.OVERDUE: (timers.PAYMENT_DUE, timers.COLLECTION_RETRY),
}
JOB = "check_obligations"


@dataclass(frozen=True)
class Need:
    kind: str
    at: datetime
    data: dict[str, Any] | None = field(default=None, compare=False)


def owes(order: Order) -> bool:
    """Goods awaiting receipt, or 先用后付 money due, with no after-sale request open."""
    if order.status == o.SHIPPED:
        return True
    return order.payment_method == o.BNPL and order.status in (o.RECEIVED, o.OVERDUE) and _due(order) > 0


def _due(order: Order) -> int:
    return int(order.amount_due_fen or 0)


def retries_spent(order: Order) -> bool:
    """An overdue order whose daily retries ran out: only the user paying ends it (by design)."""
    return order.status == o.OVERDUE and int(order.collection_attempts or 0) > settings().rules.collection_max_retries


def needed(order: Order) -> list[Need]:
    """The timers `order` must have in its current state (while a return is open: only
    the after-sale wait it is in, if any; collection is paused)."""
    rules = settings().rules
    status = order.status
    if status == o.RETURN_REQUESTED:
        if order.aftersale_timer and order.aftersale_due_at:
            return [Need(order.aftersale_timer, parse_iso(order.aftersale_due_at))]
        return []
    if status == o.RISK_REVIEW and order.risk_review_due_at:
        return [Need(timers.RISK_REVIEW, parse_iso(order.risk_review_due_at))]
    if status in (o.AWAITING_CONFIRMATION, o.AWAITING_PAYMENT):
        deadline = expiry_deadline(order)
        return [Need(timers.CHECKOUT_EXPIRY, parse_iso(deadline))] if deadline else []
    if status == o.SHIPPED and order.shipped_at:
        return [
            Need(
                timers.AUTO_CONFIRM, parse_iso(order.shipped_at) + timedelta(seconds=rules.auto_confirm_receipt_seconds)
            )
        ]
    if order.payment_method != o.BNPL:
        if status == o.RECEIVED and order.received_at:
            closes = parse_iso(order.received_at) + timedelta(seconds=rules.return_window_paid_seconds)
            return [Need(timers.ORDER_COMPLETION, closes)]
        return []
    if not order.due_at:
        return []
    due = parse_iso(order.due_at)
    if status == o.PAID:
        return [Need(timers.ORDER_COMPLETION, due)]
    if status == o.RECEIVED and _due(order) > 0:
        # The next collection round is attempts + 1 (the sweep reads it from the order).
        return [Need(timers.PAYMENT_DUE, due), Need(timers.ORDER_COMPLETION, due)]
    if status == o.OVERDUE and _due(order) > 0 and not retries_spent(order):
        done = int(order.collection_attempts or 0)
        retry_at = due + timedelta(seconds=rules.collection_retry_seconds * max(done, 1))
        return [Need(timers.COLLECTION_RETRY, retry_at, {"round": done + 1, **installments.part_tag(order)})]
    return []


def rearm(tx: Tx, order: Order) -> None:
    """Set, in `tx`, every timer `order` needs in the state `tx` leaves it in.

    The caller passes the order as it will be after `tx` (status, amounts, attempts).
    """
    for need in needed(order):
        timers.schedule(tx, need.kind, order.order_id, need.at, need.data)


# --- the production check ---------------------------------------------------------------------


def unwatched(order: Order) -> bool:
    """True when `order` owes something and no timer that acts on it is set."""
    if not owes(order) or retries_spent(order):
        return False
    kinds = ACTING[order.status]
    if any(t.kind in kinds for t in timers.live(order.order_id)):
        return False
    # The index lags writes: ask the derived keys themselves, consistently, before reporting.
    return not any(timers.exists(n.kind, order.order_id, n.at) for n in needed(order) if n.kind in kinds)


def obliged_orders() -> Any:
    """Every order carrying an obligation, shard by shard (projected fields only)."""
    for shard in range(settings().rules.timer_shards):
        yield from Order.by_obligation.query(f"obl#{shard:02d}")


def check_obligations(now: datetime) -> dict[str, Any]:
    """Report every order that owes money or awaits receipt with no live timer to act on it."""
    walked = spent = 0
    suspects: list[str] = []
    for seen in obliged_orders():
        walked += 1
        if seen.status == o.OVERDUE and int(seen.collection_attempts or 0) > settings().rules.collection_max_retries:
            spent += 1
            continue
        if not unwatched(seen):
            continue
        order = Order.get(seen.order_id, consistent_read=True)  # it may have moved since the index saw it
        if unwatched(order):
            suspects.append(order.order_id)
    if suspects:
        count("ObligationWithoutTimer", len(suspects))
        logger.error("orders owe something and no timer will act on it", extra={"order_ids": suspects})
    return {"orders": walked, "retries_spent": spent, "without_timer": len(suspects), "complete": 1}
