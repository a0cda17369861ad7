"""Return requests: the consumer asks (`refund_only` or `return_goods`), the merchant
answers within `aftersale_answer_seconds` (else the sweep approves).

`refund_only` approved: the money comes back at once. `return_goods` approved: the
consumer has `aftersale_ship_back_seconds` to ship the goods back (services/aftersale/
shipments.py). A rejection resumes collection. Every step is one conditional transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ... import batch, errors, pagination, timers
from ...clock import iso, parse_iso
from ...config import settings
from ...db import Tx
from ...models import orders as o
from ...models.aftersale import (
    APPROVED,
    AWAITING_RETURN,
    EXCHANGE,
    PENDING,
    REFUND_ONLY,
    REJECTED,
    ReturnRequest,
)
from ...models.orders import Order
from ...models.timers import Timer
from ...models.users import User
from ...observability import count
from .. import apportion, closing, notifications, orders, webhooks
from . import records
from .exchange import CHECK_ERRORS as EXCHANGE_ERRORS
from .exchange import check as exchange_check
from .records import move, recorded, request_id_for, return_request_of_merchant
from .refunds import deadline, pause, resume, settle, stage

if TYPE_CHECKING:
    from ...idempotency import IdemScope


@dataclass(frozen=True)
class ReturnLine:
    sku_id: str
    quantity: int
    to_sku_id: str | None = None  # exchange: the SKU wanted instead


DECIDE_ERRORS = records.NOT_FOUND_ERRORS | records.MOVE_ERRORS
REQUEST_ERRORS = (
    orders.NOT_FOUND_ERRORS
    | closing.CLOSING_ERRORS
    | EXCHANGE_ERRORS
    | errors.raises(
        conflict=["illegal_transition", "return_already_pending", "nothing_to_return"],
        unprocessable=["invalid_return_items"],
    )
)


def _return_window_open(order: Order, now: datetime) -> bool:
    if order.payment_method == o.BNPL:
        if order.status in (o.SHIPPED, o.RECEIVED, o.OVERDUE):
            return True
        return order.status == o.PAID and order.due_at is not None and now < parse_iso(order.due_at)
    if order.status == o.SHIPPED:
        return True
    if order.status == o.RECEIVED and order.received_at:
        window = timedelta(seconds=settings().rules.return_window_paid_seconds)
        return now < parse_iso(order.received_at) + window
    return False


def _lines_to_return(order: Order, requested: list[ReturnLine] | None) -> list[dict[str, Any]]:
    remaining = {i["sku_id"]: int(i["quantity"]) - int(i.get("returned_quantity", 0)) for i in order.items}
    prices = {i["sku_id"]: int(i["unit_price_fen"]) for i in order.items}
    if requested is None:
        lines = [(sku, q) for sku, q in remaining.items() if q > 0]
    else:
        wanted: dict[str, int] = {}
        for line in requested:
            wanted[line.sku_id] = wanted.get(line.sku_id, 0) + line.quantity
        field_errors = [
            errors.FieldError("items", f"{sku} is not in this order, or not that many remain")
            for sku, q in wanted.items()
            if q > remaining.get(sku, 0)
        ]
        if field_errors:
            raise errors.unprocessable(
                "invalid_return_items", "the return asks for goods the order does not have", field_errors
            )
        lines = list(wanted.items())
    if not lines:
        raise errors.conflict("nothing_to_return", "every item of this order was already returned")
    # Named as bought, so the merchant and support see what comes back without a lookup.
    bought = {i["sku_id"]: i for i in order.items}
    return [
        {
            "sku_id": sku,
            "quantity": q,
            "goods_fen": prices[sku] * q,
            "name": bought[sku].get("name"),
            "attributes": dict(bought[sku].get("attributes") or {}),
        }
        for sku, q in lines
    ]


def request_return(
    user_id: str,
    order_id: str,
    reason: str,
    items: list[ReturnLine] | None,
    now: datetime,
    kind: str = REFUND_ONLY,
    idem: IdemScope | None = None,
) -> ReturnRequest:
    """Ask the merchant to take goods back; an open request pauses collection."""
    order = orders.get_own(user_id, order_id)
    if order.pending_return_id:
        raise errors.conflict("return_already_pending", "this order already has a return request waiting")
    if not _return_window_open(order, now):
        raise errors.illegal_transition("order", order.status, "return")
    replacements: dict[str, dict[str, str]] = {}
    if kind == EXCHANGE:
        replacements = exchange_check(order, [(line.sku_id, line.quantity, line.to_sku_id) for line in items or []])
    lines = _lines_to_return(order, items)
    if kind == EXCHANGE:
        targets = {line.sku_id: str(line.to_sku_id) for line in items or []}
        lines = [
            {**line, "to_sku_id": targets[line["sku_id"]], "to_attributes": replacements[targets[line["sku_id"]]]}
            for line in lines
        ]
    # The discount shared so that all returns together give back exactly the total.
    amounts = apportion.return_amounts(order, [(line["sku_id"], int(line["quantity"])) for line in lines])
    request = ReturnRequest(
        request_id_for(order),
        order_id=order_id,
        user_id=user_id,
        merchant_id=order.merchant_id,
        created_key=f"{iso(now)}#{order_id}",
        status=PENDING,
        kind=kind,
        reason=reason,
        items=[{**line, "amount_fen": line_amount} for line, line_amount in zip(lines, amounts, strict=True)],
        amount_fen=sum(amounts),
        order_status_before=order.status,
        created_at=iso(now),
    )
    answer = (timers.AFTERSALE_ANSWER, deadline(settings().rules.aftersale_answer_seconds, now))
    tx = Tx()
    # The id is the order's next (`request_id_for`): the order's own step below is what excludes
    # a concurrent request, and its error is the one shown.
    tx.save(request, condition=ReturnRequest.request_id.does_not_exist(), guard=True)
    closing.opens(tx, user_id, [User.open_returns.add(1)])
    webhooks.emit(tx, order.merchant_id, webhooks.types.RETURN_REQUESTED, request, now)
    actions = [
        Order.pending_return_id.set(request.request_id),
        Order.last_return_id.set(request.request_id),
        *recorded(order, Order.return_ids, request.request_id),
        *stage(tx, order, None, answer),
    ]
    pause(
        tx,
        order,
        now,
        f"user:{user_id}",
        "return",
        actions,
        reason,
        event="return_requested",
        by=orders.OrderEvent.REQUEST_RETURN,
    )
    hours = settings().rules.aftersale_answer_seconds // 3600
    notifications.notify(
        tx,
        order.merchant_id,
        notifications.RETURN_REQUESTED,
        "售后申请 (a return request)",
        f"order {order_id}: the buyer asks for {kind}; answer within {hours} h or it is approved",
        order_id,
        f"return:{request.request_id}:requested",
        now,
    )
    if idem is not None:
        idem.stage(tx, request)
    tx.commit()
    return request


def decide_return(
    merchant_id: str, request_id: str, approve: bool, note: str, now: datetime, idem: IdemScope | None = None
) -> ReturnRequest:
    """The merchant approves or rejects a pending return request (answered as written)."""
    request = return_request_of_merchant(merchant_id, request_id)
    if request.status != PENDING:
        raise errors.illegal_transition("return request", request.status, "decide")
    order, user = batch.get_many([(Order, request.order_id, None), (User, request.user_id, None)])
    if not isinstance(order, Order):
        raise orders.order_not_found()
    request.note, request.decided_at = note, iso(now)

    def staged(tx: Tx) -> None:
        if idem is not None:
            idem.stage(tx, request)

    decide(
        request,
        order,
        approve,
        note,
        now,
        f"merchant:{merchant_id}",
        user=user if isinstance(user, User) else None,
        before_commit=staged,
    )
    return request


def _next_step(kind: str) -> str:
    return "refunded" if kind == REFUND_ONLY else "ship the goods back with the carrier's tracking number"


def decide(
    request: ReturnRequest,
    order: Order,
    approve: bool,
    note: str,
    now: datetime,
    actor: str,
    fired: Timer | None = None,
    *,
    user: User | None = None,
    before_commit: Callable[[Tx], None] | None = None,
) -> None:
    """Answer a pending request: reject (collection resumes), approve a `refund_only` one
    (money back now) or a `return_goods` one (the consumer ships the goods back).

    `user`: the buyer as read with the order (else read if needed); `before_commit` adds to
    the write."""
    tx = Tx()
    decided = [ReturnRequest.note.set(note), ReturnRequest.decided_at.set(iso(now))]
    if not approve:
        move(tx, request, PENDING, REJECTED, *decided)
        resume(
            tx,
            order,
            request.order_status_before,
            now,
            actor,
            note,
            stage(tx, order, fired, None),
            event="return_rejected",
        )
    elif request.kind == REFUND_ONLY:
        move(tx, request, PENDING, APPROVED, *decided)
        settle(tx, order, request, now, actor, note, stage(tx, order, fired, None), event="return_approved", user=user)
    else:
        move(tx, request, PENDING, AWAITING_RETURN, *decided)
        ship_back = (timers.AFTERSALE_SHIP_BACK, deadline(settings().rules.aftersale_ship_back_seconds, now))
        mine = Order.pending_return_id == request.request_id
        actions = stage(tx, order, fired, ship_back)
        pause(tx, order, now, actor, "approve the return of", actions, note, mine, event="return_approved")
    webhooks.emit(tx, order.merchant_id, webhooks.types.RETURN_ANSWERED, request, now, actions=decided)
    notifications.notify(
        tx,
        order.user_id,
        notifications.RETURN_ANSWERED,
        "售后已同意 (return approved)" if approve else "售后被拒绝 (return rejected)",
        f"order {order.order_id}: " + (_next_step(request.kind) if approve else "rejected; collection resumes"),
        order.order_id,
        f"return:{request.request_id}:answered",
        now,
    )
    if before_commit is not None:
        before_commit(tx)
    tx.commit()
    if approve:
        count("ReturnsApproved")


def merchant_returns(
    merchant_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[ReturnRequest], str | None]:
    scope = f"merchant-returns:{merchant_id}:{status or '*'}"
    page = ReturnRequest.by_merchant.query(
        merchant_id,
        scan_index_forward=False,
        limit=limit,
        page_size=limit,
        filter_condition=(ReturnRequest.status == status) if status else None,
        last_evaluated_key=pagination.decode(cursor, scope),
    )
    items = list(page)
    return items, pagination.encode(page.last_evaluated_key, scope)
