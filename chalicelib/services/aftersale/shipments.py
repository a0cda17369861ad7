"""`return_goods`: the consumer ships the goods back (carrier and tracking number) within
`aftersale_ship_back_seconds` of approval, else the request closes and collection resumes;
the merchant confirms their arrival within `aftersale_arrival_seconds` of the shipment,
else the sweep does it: the refund happens either way, and the goods go back to stock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from ... import batch, errors, timers
from ...clock import iso
from ...config import settings
from ...db import Tx
from ...models.aftersale import (
    AWAITING_RESHIPMENT,
    AWAITING_RETURN,
    CLOSED,
    EXCHANGE,
    REFUNDED,
    RETURNING,
    ReturnRequest,
)
from ...models.orders import Order
from ...models.timers import Timer
from ...models.users import User
from ...observability import count
from .. import notifications, orders, stock, webhooks
from . import records
from .exchange import arrived
from .records import move, not_found, return_request_of_merchant
from .refunds import deadline, pause, resume, settle, stage

if TYPE_CHECKING:
    from ...idempotency import IdemScope

ARRIVAL_ERRORS = records.NOT_FOUND_ERRORS | records.MOVE_ERRORS
SHIP_BACK_ERRORS = orders.NOT_FOUND_ERRORS | ARRIVAL_ERRORS


def ship_back(
    user_id: str,
    order_id: str,
    request_id: str,
    carrier: str,
    tracking_number: str,
    now: datetime,
    idem: IdemScope | None = None,
) -> ReturnRequest:
    """The consumer's goods are on their way back; the merchant has a deadline to confirm.
    Answers the request as the write left it (`idem` stages that answer in the write)."""
    order, request = batch.get_many([(Order, order_id, None), (ReturnRequest, request_id, None)])
    if not isinstance(order, Order) or order.user_id != user_id:
        raise orders.order_not_found()
    if not isinstance(request, ReturnRequest) or request.order_id != order.order_id:
        raise not_found()
    if request.status != AWAITING_RETURN:
        raise errors.illegal_transition("return request", request.status, "ship back")
    arrival = (timers.AFTERSALE_ARRIVAL, deadline(settings().rules.aftersale_arrival_seconds, now))
    tx = Tx()
    shipped = [
        ReturnRequest.return_carrier.set(carrier),
        ReturnRequest.return_tracking_number.set(tracking_number),
        ReturnRequest.shipped_back_at.set(iso(now)),
    ]
    move(tx, request, AWAITING_RETURN, RETURNING, *shipped)
    webhooks.emit(tx, order.merchant_id, webhooks.types.RETURN_SHIPPED_BACK, request, now, actions=shipped)
    mine = Order.pending_return_id == request.request_id
    actions = stage(tx, order, None, arrival)
    pause(tx, order, now, f"user:{user_id}", "ship back the goods of", actions, "", mine, event="return_shipped_back")
    notifications.notify(
        tx,
        order.merchant_id,
        notifications.RETURN_SHIPPED_BACK,
        "买家已寄回 (goods shipped back)",
        f"order {order_id}: {carrier} {tracking_number}; confirm the arrival",
        order_id,
        f"return:{request_id}:shipped_back",
        now,
    )
    request.return_carrier, request.return_tracking_number, request.shipped_back_at = carrier, tracking_number, iso(now)
    if idem is not None:
        idem.stage(tx, request)
    tx.commit()
    return request


def confirm_arrival(merchant_id: str, request_id: str, now: datetime, idem: IdemScope | None = None) -> ReturnRequest:
    """The returned goods arrived: the refund (or credit release) happens now; an exchange
    waits for the merchant to reship the replacement; goods a dispute already refunded on
    their way back only go back to stock. Answers the request as the write left it."""
    request = return_request_of_merchant(merchant_id, request_id)
    late = refunded_on_the_way(request)
    if request.status != RETURNING and not late:
        raise errors.illegal_transition("return request", request.status, "confirm arrival of")
    order, user = batch.get_many([(Order, request.order_id, None), (User, request.user_id, None)])
    if not isinstance(order, Order):
        raise orders.order_not_found()
    actor = f"merchant:{merchant_id}"

    def staged(tx: Tx) -> None:
        if idem is not None:
            idem.stage(tx, request)

    if late:
        arrived_after_refund(request, order, now, actor, staged)
    elif request.kind == EXCHANGE:
        tx = Tx()
        move(tx, request, RETURNING, AWAITING_RESHIPMENT, ReturnRequest.arrived_at.set(iso(now)))
        request.arrived_at = iso(now)
        restock(tx, request, order)
        arrived(tx, request, order, now, actor)
        staged(tx)
        tx.commit()
    else:
        arrive(request, order, now, actor, user=user if isinstance(user, User) else None, before_commit=staged)
    return request


def arrive(
    request: ReturnRequest,
    order: Order,
    now: datetime,
    actor: str,
    fired: Timer | None = None,
    waiting: str = RETURNING,
    *,
    user: User | None = None,
    before_commit: Callable[[Tx], None] | None = None,
) -> None:
    """Refund the request's goods (they arrived, or the merchant let a wait run out).
    `user`: the buyer if already read; `before_commit` adds to the write."""
    tx = Tx()
    request.arrived_at = request.arrived_at or iso(now)
    arrival = ReturnRequest.arrived_at.set(request.arrived_at)
    move(tx, request, waiting, REFUNDED, arrival)
    webhooks.emit(tx, order.merchant_id, webhooks.types.RETURN_REFUNDED, request, now, actions=[arrival])
    if waiting == RETURNING:  # arriving now (an exchange's goods were restocked when they arrived)
        restock(tx, request, order)
    settle(tx, order, request, now, actor, "", stage(tx, order, fired, None), event="return_arrived", user=user)
    if before_commit is not None:
        before_commit(tx)
    tx.commit()
    count("ReturnsApproved")


def refunded_on_the_way(request: ReturnRequest) -> bool:
    """A dispute refunded the request while its goods travelled back (shipped, not arrived)."""
    return request.status == REFUNDED and bool(request.shipped_back_at) and not request.arrived_at


def arrived_after_refund(
    request: ReturnRequest, order: Order, now: datetime, actor: str, before_commit: Callable[[Tx], None]
) -> None:
    """Goods a dispute refunded on their way back arrive: they go back to stock, once (the
    request's `arrived_at` is the condition), and the order's history says so; no money moves
    (the decision refunded) and the order stays where it is (`GOODS_BACK`)."""
    tx = Tx()
    request.arrived_at = iso(now)
    tx.update(
        request,
        [ReturnRequest.arrived_at.set(request.arrived_at)],
        condition=(ReturnRequest.status == REFUNDED) & ReturnRequest.arrived_at.does_not_exist(),
        on_fail=errors.conflict("illegal_transition", "the goods of this return request already arrived"),
    )
    restock(tx, request, order)
    orders.transition(tx, order, orders.OrderEvent.GOODS_BACK, now, actor, history_event="return_arrived")
    before_commit(tx)
    tx.commit()


def restock(tx: Tx, request: ReturnRequest, order: Order) -> None:
    """The goods that came back return to their SKUs' stock (the shards the order's lines
    took them from), in the arrival's transaction."""
    back: dict[str, int] = {}
    for line in request.items:
        back[line["sku_id"]] = back.get(line["sku_id"], 0) + int(line["quantity"])
    bought = {i["sku_id"]: i for i in order.items}
    for sku_id, quantity in back.items():
        line = bought.get(sku_id)
        stock.give_back(tx, sku_id, quantity, stock.takes_of(line) if line else [(0, quantity)])


def close(request: ReturnRequest, order: Order, now: datetime, fired: Timer) -> None:
    """Nothing was shipped back in time: the request closes, collection resumes."""
    tx = Tx()
    move(tx, request, AWAITING_RETURN, CLOSED, ReturnRequest.closed_at.set(iso(now)))
    actions = stage(tx, order, fired, None)
    resume(tx, order, request.order_status_before, now, "system", "", actions, event="return_closed")
    tx.commit()
