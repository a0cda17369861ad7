"""Orders held for review (风控审核): the `risk` role's queue, the case, the decision, and the
timer that declines what nobody decided in time (`RISK_REVIEW_SECONDS`).

Approving moves the order `risk_review` → `placed` (its credit was reserved when it was
held) and the merchant sees it from then; declining — by an operator or the timer — cancels
it through `orders.release`, which gives back its credit, stock and coupon. Each case is
decided once (a conditional write on its status), and never by the order's own buyer; one
past its deadline is no longer approved (409 `review_expired`), only declined.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from ... import batch, errors, pagination, timers
from ...clock import iso, parse_iso
from ...db import Tx
from ...idempotency import IdemScope
from ...models.orders import BNPL, RISK_REVIEW, Order
from ...models.risk import APPROVED, DECLINED, EXPIRED, PENDING, RiskDecision
from ...models.timers import Timer
from ...models.users import User
from ...observability import count
from .. import duties, notifications, orders
from .decide import add_stats, decision_id

APPROVE = "approve"
DECLINE = "decline"
HISTORY = 10  # the buyer's latest orders shown with a case


@dataclass(frozen=True)
class Case:
    decision: RiskDecision
    order: Order | None
    user: User | None
    recent_orders: list[Order]
    money: orders.Money | None = None  # what moved on the order (None: not read)


def review_not_found() -> errors.DomainError:
    return errors.not_found("review_not_found", "no such review")


NOT_FOUND_ERRORS = errors.raises(not_found=["review_not_found"])
DECIDE_ERRORS = NOT_FOUND_ERRORS | errors.raises(
    forbidden=["own_case"], conflict=["illegal_transition", "review_expired"]
)


def load(review_id: str) -> tuple[RiskDecision, Order | None]:
    """The case's decision and its order (consistent), in one BatchGet: a decision is named
    after its order (`decide.decision_id`); an order named otherwise is read after."""
    order_id = "o_" + review_id.removeprefix("rd_")
    found, order = batch.get_many([(RiskDecision, review_id, None), (Order, order_id, None)])
    if not isinstance(found, RiskDecision) or found.review_status is None:  # none, or not a review
        raise review_not_found()
    if not isinstance(order, Order) or order.order_id != found.order_id:
        try:
            order = Order.get(found.order_id, consistent_read=True)
        except DoesNotExist:
            order = None
    return found, order


def money_of(order: Order) -> orders.Money:
    """What moved on a case's order. A 先用后付 order is paid only once received (its payment
    plan starts there): before that there are no payments to read."""
    if order.payment_method == BNPL and not order.received_at and not int(order.refunded_fen or 0):
        return orders.Money([], [])
    return orders.money_of(order)


def list_reviews(status: str, *, limit: int, cursor: str | None) -> tuple[list[RiskDecision], str | None]:
    """Cases in one status, oldest first (the pending ones are a work queue)."""
    scope = f"risk-reviews:{status}"
    result = RiskDecision.by_review_status.query(
        status, limit=limit, page_size=limit, last_evaluated_key=pagination.decode(cursor, scope)
    )
    items = list(result)
    return items, pagination.encode(result.last_evaluated_key, scope)


def case(review_id: str) -> Case:
    """The case on one call: the decision with its reasons, the order, the buyer's standing
    and latest orders."""
    decision, order = load(review_id)
    try:
        user: User | None = User.get(decision.user_id)
    except DoesNotExist:
        user = None
    recent = list(Order.by_user.query(decision.user_id, scan_index_forward=False, limit=HISTORY, page_size=HISTORY))
    return Case(decision, order, user, recent, money_of(order) if order else None)


def decide(
    operator_id: str, review_id: str, verdict: str, note: str, now: datetime, idem: IdemScope | None = None
) -> Case:
    """Approve (→ placed) or decline (→ cancelled, credit released) a held order, once; the
    buyer is notified. Nobody decides a review of their own order, nor of an order to their
    own shop (403 `own_case`)."""
    decision, order = load(review_id)
    if decision.user_id == operator_id:
        raise errors.forbidden("own_case", "you cannot decide a review of your own order")
    if decision.review_status != PENDING:
        raise errors.illegal_transition("review", str(decision.review_status), "decide")
    if order is None:
        raise review_not_found()
    duties.refuse_own_case(operator_id, order.merchant_id, "shop's order review")
    if order.status != RISK_REVIEW:
        raise errors.illegal_transition("order", order.status, "decide")
    # Undecided after RISK_REVIEW_SECONDS it is declined (its timer may not have run yet): too
    # late to approve. A held order's deadline never moves, and its status is conditioned below.
    if verdict == APPROVE and order.risk_review_due_at and now >= parse_iso(order.risk_review_due_at):
        raise errors.conflict("review_expired", "this review's time is over: the order is declined")
    actor = f"risk:{operator_id}"
    tx = Tx()
    status = APPROVED if verdict == APPROVE else DECLINED
    _close(tx, decision, status, now, operator_id, note)
    if verdict == APPROVE:
        orders.transition(
            tx,
            order,
            orders.OrderEvent.APPROVE,
            now,
            actor,
            actions=[Order.confirmed_at.set(iso(now)), Order.risk_review_due_at.remove()],
        )
        if order.risk_review_due_at:
            timers.cancel(tx, timers.RISK_REVIEW, order.order_id, order.risk_review_due_at)
        order.confirmed_at, order.risk_review_due_at = iso(now), None
    else:
        orders.release(tx, order, now, actor, event=orders.OrderEvent.DECLINE, note="declined by a risk operator")
    _notify(tx, order, status, now)
    result = Case(decision, order, None, [], orders.Money([], []))  # held, so never paid: nothing moved
    if idem is not None:
        idem.stage(tx, result)
    tx.commit()
    count("RiskReviewsDecided", Outcome=status)
    return result


def _close(tx: Tx, decision: RiskDecision, status: str, now: datetime, by: str, note: str | None) -> None:
    actions = [
        RiskDecision.review_status.set(status),
        RiskDecision.decided_at.set(iso(now)),
        RiskDecision.decided_by.set(by),
    ]
    if note is not None:
        actions.append(RiskDecision.decision_note.set(note))
    tx.update(
        decision,
        actions,
        condition=RiskDecision.review_status == PENDING,
        on_fail=errors.illegal_transition("review", "decided", "decide"),
    )
    decision.review_status, decision.decided_at, decision.decided_by = status, iso(now), by
    decision.decision_note = note
    add_stats(tx, now, decision.order_id, f"review_{status}", [])


def _notify(tx: Tx, order: Order, status: str, now: datetime) -> None:
    if status == APPROVED:
        title, body = "订单已确认 (order placed)", "Your 先用后付 order was checked and placed."
    else:
        title = "先用后付未通过 (先用后付 not available)"
        body = (
            "Your 先用后付 order could not be placed and was cancelled; nothing is owed. "
            "You may buy again with another payment method."
        )
    notifications.notify(
        tx,
        order.user_id,
        notifications.RISK_DECIDED,
        title,
        body,
        order.order_id,
        f"order:{order.order_id}:risk_{status}",
        now,
    )


def expire_reviews(now: datetime) -> dict[str, int]:
    """Decline held orders nobody decided in time (the timer, swept by keys). Overlapping
    runs are safe: each timer is taken once, and a decided case leaves a stale timer."""
    return timers.sweep(timers.RISK_REVIEW, now, lambda timer: _expire(timer, now))


def _expire(timer: Timer, now: datetime) -> bool:
    try:
        order: Order | None = Order.get(timer.ref, consistent_read=True)
    except DoesNotExist:
        order = None
    tx = Tx()
    timers.take(tx, timer)
    if order is None or order.status != RISK_REVIEW or order.risk_review_due_at != timer.due_at:
        tx.commit()  # decided meanwhile: just clear it
        return False
    decision = RiskDecision(decision_id(order.order_id), order_id=order.order_id)
    _close(tx, decision, EXPIRED, now, "system", None)
    orders.release(
        tx, order, now, "system", event=orders.OrderEvent.REVIEW_TIMEOUT, note="risk review timed out", taken=timer
    )
    _notify(tx, order, EXPIRED, now)
    tx.commit()
    count("RiskReviewsExpired")
    return True
