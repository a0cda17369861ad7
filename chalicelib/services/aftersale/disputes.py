"""Disputes (平台介入): the consumer asks the platform to step in; support decides.

- Escalation: within `dispute_window_seconds` of a rejection, or of the deadline an open
  request stalled past (the merchant's answer, or the goods' arrival). Once per request,
  one open dispute per order. The order is (again) `return_requested`: collection pauses.
  A rejected request is escalated for what is left of its goods (a later request may have
  returned some), repriced as if returned now; none left, it is not escalable.
- Support decides within `dispute_decision_seconds` (5 days): an undecided one past that is
  marked late by `advance_aftersale` (first in the console's list, metric DisputesLate,
  an alarm); nothing is decided automatically.
- Support lists open disputes and reads the whole case; the decision (Idempotency-Key)
  is `refund` (the platform refunds or releases credit, and takes the amount back from
  the merchant's payable — a reversal, which may leave it negative) or `reject`
  (collection resumes). Nobody decides their own case. Both sides are notified.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from ... import batch, errors, pagination, timers
from ...clock import iso, parse_iso
from ...config import settings
from ...db import Tx
from ...idempotency import IdemScope
from ...models import orders as o
from ...models.aftersale import (
    AWAITING_RESHIPMENT,
    DISPUTE_OPEN,
    DISPUTE_REFUNDED,
    DISPUTE_REJECTED,
    DISPUTED,
    PENDING,
    REFUNDED,
    REJECTED,
    RETURNING,
    Dispute,
    ReturnRequest,
)
from ...models.orders import Order
from ...models.timers import Timer
from ...models.users import User
from ...observability import count, logger
from .. import apportion, closing, duties, notifications, orders, webhooks
from . import records
from .records import load, move, of_order, recorded
from .records import not_found as not_found_request
from .refunds import pause, resume, settle, stage

STALLED = (PENDING, RETURNING, AWAITING_RESHIPMENT)  # waits the merchant leaves hanging
REQUEST_ID_LENGTH = len("ret_") + 20  # as services/aftersale/requests.py makes them
MAX_ID_LENGTH = 64  # what a path parameter holds


def not_found() -> errors.DomainError:
    return errors.not_found("dispute_not_found", "no such dispute")


NOT_FOUND_ERRORS = errors.raises(not_found=["dispute_not_found"])
ORDER_ERRORS = orders.NOT_FOUND_ERRORS
ESCALATE_ERRORS = (
    orders.NOT_FOUND_ERRORS
    | records.NOT_FOUND_ERRORS
    | closing.CLOSING_ERRORS
    | errors.raises(
        conflict=[
            "dispute_already_open",
            "already_escalated",
            "not_escalable",
            "escalation_window_closed",
            "illegal_transition",
            "return_already_pending",
        ]
    )
)
DECIDE_ERRORS = duties.OWN_CASE_ERRORS | NOT_FOUND_ERRORS | errors.raises(conflict=["illegal_transition"])


def _escalation_opened(order: Order, request: ReturnRequest, now: datetime) -> datetime:
    """When the consumer's right to escalate `request` began (409 if it has not, or ran out)."""
    if request.escalated_at:
        raise errors.conflict("already_escalated", "this request was already escalated")
    if request.status == REJECTED and request.decided_at:
        since = parse_iso(request.decided_at)
        if order.status != o.RETURNED and not still_returnable(order, request):  # (returned: illegal below)
            raise errors.conflict("not_escalable", "the goods of this request were since returned by another")
    elif (
        request.status in STALLED
        and order.pending_return_id == request.request_id
        and order.aftersale_due_at
        and parse_iso(order.aftersale_due_at) <= now
    ):
        since = parse_iso(order.aftersale_due_at)
    else:
        raise errors.conflict("not_escalable", "only a rejected request, or one stalled past its deadline, escalates")
    if now > since + timedelta(seconds=settings().rules.dispute_window_seconds):
        raise errors.conflict("escalation_window_closed", "the time to ask the platform to step in has passed")
    return since


def dispute_id_for(order_id: str, request_id: str) -> str:
    """A request is escalated once: its dispute's id names it and its order, so support reads
    the dispute, the order and the request in one BatchGet (`cases.case`)."""
    derived = f"dsp_{request_id}_{order_id}"
    return derived if ids_in(derived) == (order_id, request_id) else "dsp_" + uuid.uuid4().hex[:20]


def ids_in(dispute_id: str) -> tuple[str, str] | None:
    """The (order id, request id) a dispute's id names; None for an id that names none (older)."""
    rest, n = dispute_id.removeprefix("dsp_"), REQUEST_ID_LENGTH
    request_id, sep, order_id = rest[:n], rest[n : n + 1], rest[n + 1 :]
    if request_id.startswith("ret_") and sep == "_" and order_id and len(dispute_id) <= MAX_ID_LENGTH:
        return order_id, request_id
    return None


def still_returnable(order: Order, request: ReturnRequest) -> list[dict[str, Any]]:
    """A rejected request's lines as far as the order still has their goods, priced as if
    returned now (`apportion.return_amounts`): a later request may have returned some since,
    and a dispute decided for the buyer gives back only what is left, never those twice."""
    left = {i["sku_id"]: int(i["quantity"]) - int(i.get("returned_quantity", 0)) for i in order.items}
    prices = {i["sku_id"]: int(i["unit_price_fen"]) for i in order.items}
    lines = []
    for line in request.items:
        quantity = min(int(line["quantity"]), left.get(line["sku_id"], 0))
        if quantity > 0:
            left[line["sku_id"]] -= quantity
            lines.append({**line, "quantity": quantity, "goods_fen": prices[line["sku_id"]] * quantity})
    amounts = apportion.return_amounts(order, [(line["sku_id"], int(line["quantity"])) for line in lines])
    return [{**line, "amount_fen": amount} for line, amount in zip(lines, amounts, strict=True)]


def _to_escalate(order: Order, request_id: str | None, now: datetime) -> ReturnRequest:
    """The request named (it must be this order's), else the open one, else the latest
    escalable one: a later request never takes away the right to escalate an earlier one."""
    if request_id is not None:
        request = load(request_id)
        if request.order_id != order.order_id:
            raise not_found_request()
    elif order.pending_return_id:
        request = load(order.pending_return_id)
    else:
        requests = of_order(order.user_id, order.order_id)
        if not requests:
            raise errors.conflict("not_escalable", "this order has no return request to escalate")
        request = next((r for r in requests if _escalable(order, r, now)), requests[0])
    if order.pending_return_id and order.pending_return_id != request.request_id:
        raise errors.conflict("return_already_pending", "another return request of this order is open: wait for it")
    return request


def _escalable(order: Order, request: ReturnRequest, now: datetime) -> bool:
    try:
        _escalation_opened(order, request, now)
    except errors.Conflict:
        return False
    return True


def escalate(user_id: str, order_id: str, reason: str, now: datetime, request_id: str | None = None) -> Dispute:
    """Ask the platform to step in on one of the order's return requests (`request_id`,
    default the open one or the latest escalable one)."""
    order = orders.get_own(user_id, order_id)
    if order.open_dispute_id:
        raise errors.conflict("dispute_already_open", "this order already has an open dispute")
    request = _to_escalate(order, request_id, now)
    request_id = request.request_id
    _escalation_opened(order, request, now)
    rejected = order.status != o.RETURN_REQUESTED
    if rejected:  # the order as read is the one the escalation's own step below holds to
        request.items = still_returnable(order, request)
        request.amount_fen = sum(int(line["amount_fen"]) for line in request.items)
    dispute_id = dispute_id_for(order_id, request_id)
    deadline_at = now + timedelta(seconds=settings().rules.dispute_decision_seconds)
    dispute = Dispute(
        dispute_id,
        order_id=order_id,
        request_id=request_id,
        user_id=user_id,
        merchant_id=order.merchant_id,
        created_key=f"{iso(now)}#{dispute_id}",
        status=DISPUTE_OPEN,
        reason=reason,
        amount_fen=int(request.amount_fen),
        created_at=iso(now),
        deadline_at=iso(deadline_at),
    )
    tx = Tx()
    # Once per request (the request's own step below is the rule; its error is the one shown).
    tx.save(dispute, condition=Dispute.dispute_id.does_not_exist(), guard=True)
    timers.schedule(tx, timers.DISPUTE_DECISION, dispute_id, deadline_at)
    webhooks.emit(tx, order.merchant_id, webhooks.types.DISPUTE_OPENED, dispute, now)
    escalated = ReturnRequest.escalated_at.set(iso(now))
    guard = Order.open_dispute_id.does_not_exist()
    opened = [Order.open_dispute_id.set(dispute_id), *recorded(order, Order.dispute_ids, dispute_id)]
    if not rejected:  # stalled: its wait ends, support decides
        move(tx, request, request.status, DISPUTED, escalated)
        actions = [*opened, *stage(tx, order, None, None)]
        closing.opens(tx, user_id)
    else:  # rejected: the order pauses again, from where it is now
        # Repriced: what is left of its goods (`still_returnable`), as the dispute says.
        repriced = [ReturnRequest.items.set(request.items), ReturnRequest.amount_fen.set(request.amount_fen)]
        move(tx, request, REJECTED, DISPUTED, escalated, ReturnRequest.order_status_before.set(order.status), *repriced)
        request.order_status_before = order.status
        actions = [*opened, Order.pending_return_id.set(request_id)]
        guard &= Order.pending_return_id.does_not_exist()
        closing.opens(tx, user_id, [User.open_returns.add(1)])
    pause(
        tx,
        order,
        now,
        f"user:{user_id}",
        "escalate",
        actions,
        reason,
        guard,
        event="dispute_opened",
        by=orders.OrderEvent.ESCALATE,
    )
    notifications.notify(
        tx,
        order.merchant_id,
        notifications.DISPUTE_OPENED,
        "平台介入 (the platform steps in)",
        f"the buyer asked the platform to step in on order {order_id}",
        order_id,
        f"dispute:{dispute_id}:opened",
        now,
    )
    tx.commit()
    return dispute


def flag_late(now: datetime) -> dict[str, int]:
    """Disputes support left undecided past `dispute_decision_seconds`: each is marked late
    (shown first in the console) and counted (metric DisputesLate, an alarm); nothing is
    decided for support."""

    def one(timer: Timer) -> bool:
        tx = Tx()
        timers.take(tx, timer)
        try:
            dispute = Dispute.get(timer.ref, consistent_read=True)
        except DoesNotExist:
            dispute = None
        late = dispute is not None and dispute.status == DISPUTE_OPEN and not dispute.late_at
        if dispute is not None and late:
            tx.update(
                dispute,
                [Dispute.late_at.set(iso(now))],
                condition=(Dispute.status == DISPUTE_OPEN) & Dispute.late_at.does_not_exist(),
                on_fail=errors.illegal_transition("dispute", "decided", "mark late"),
            )
        tx.commit()
        if late:
            count("DisputesLate")
            logger.warning("dispute undecided past its deadline", extra={"dispute_id": timer.ref})
        return late

    return timers.sweep(timers.DISPUTE_DECISION, now, one)


def order_disputes(user_id: str, order_id: str) -> list[Dispute]:
    orders.get_own(user_id, order_id)
    return list(Dispute.by_order.query(order_id, scan_index_forward=False, limit=100))


def open_disputes(status: str | None, limit: int, cursor: str | None) -> tuple[list[Dispute], str | None]:
    """Disputes of `status` (default open), oldest first."""
    wanted = status or DISPUTE_OPEN
    scope = f"support-disputes:{wanted}"
    page = Dispute.by_status.query(
        wanted, limit=limit, page_size=limit, last_evaluated_key=pagination.decode(cursor, scope)
    )
    items = list(page)
    return items, pagination.encode(page.last_evaluated_key, scope)


def get(dispute_id: str) -> Dispute:
    try:
        return Dispute.get(dispute_id, consistent_read=True)
    except DoesNotExist as exc:
        raise not_found() from exc


def decide(
    support_id: str, dispute_id: str, decision: str, note: str, now: datetime, idem: IdemScope | None = None
) -> Dispute:
    """Support's decision: `refund` or `reject`, once; never on their own order (403)."""
    dispute = get(dispute_id)
    duties.refuse_own_case(support_id, dispute.user_id, "order's dispute")
    duties.refuse_own_case(support_id, dispute.merchant_id, "order's dispute")
    if dispute.status != DISPUTE_OPEN:
        raise errors.illegal_transition("dispute", dispute.status, "decide")
    # The order, its return request and its buyer in one read (settling a refund needs the buyer).
    order, request, user = batch.get_many(
        [(Order, dispute.order_id, None), (ReturnRequest, dispute.request_id, None), (User, dispute.user_id, None)]
    )
    if not isinstance(order, Order) or not isinstance(request, ReturnRequest):
        raise errors.conflict("illegal_transition", "this dispute's order or return request is gone")
    actor = f"support:{support_id}"
    refund = decision == "refund"
    to = DISPUTE_REFUNDED if refund else DISPUTE_REJECTED
    tx = Tx()
    tx.update(
        dispute,
        [
            Dispute.status.set(to),
            Dispute.decided_at.set(iso(now)),
            Dispute.decided_by.set(support_id),
            Dispute.note.set(note),
        ],
        condition=Dispute.status == DISPUTE_OPEN,
        on_fail=errors.conflict("illegal_transition", "this dispute was already decided"),
    )
    if dispute.deadline_at:
        timers.cancel(tx, timers.DISPUTE_DECISION, dispute_id, dispute.deadline_at)
    dispute.status, dispute.decided_at, dispute.decided_by, dispute.note = to, iso(now), support_id, note
    webhooks.emit(tx, dispute.merchant_id, webhooks.types.DISPUTE_DECIDED, dispute, now)
    closed: list[Action] = [Order.open_dispute_id.remove()]
    order.open_dispute_id = None
    # The request keeps the merchant's note; support's is the dispute's (and the order history's).
    if refund:
        move(tx, request, DISPUTED, REFUNDED)
        webhooks.emit(tx, dispute.merchant_id, webhooks.types.RETURN_REFUNDED, request, now)
        buyer = user if isinstance(user, User) else None
        settle(tx, order, request, now, actor, note, closed, event="dispute_refunded", user=buyer)
    else:
        move(tx, request, DISPUTED, REJECTED)
        resume(tx, order, request.order_status_before, now, actor, note, closed, event="dispute_rejected")
    outcome = "退款 (refunded)" if refund else "驳回 (rejected)"
    for recipient in (dispute.user_id, dispute.merchant_id):
        notifications.notify(
            tx,
            recipient,
            notifications.DISPUTE_DECIDED,
            "平台介入结果 (the platform decided)",
            f"order {order.order_id}: {outcome}",
            order.order_id,
            f"dispute:{dispute_id}:decided:{recipient}",
            now,
        )
    if idem is not None:
        idem.stage(tx, dispute)
    tx.commit()
    return dispute
