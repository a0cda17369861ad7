"""Exchange (换货): the same product, a SKU of the same price.

request (each item names its `to_sku_id`) → approved → the goods ship back → the merchant
confirms arrival (the goods go back to stock) → the merchant reships the replacement with a
tracking number (taken from stock, and the order's lines change, in that transaction; an
exchange that ends in a refund instead never took it) → the consumer confirms its receipt
(`POST /v1/orders/{id}/receipt`), and a 先用后付 order's payment window restarts: due
`payment_window_seconds` after that receipt.

Waits: the merchant reships within `aftersale_answer_seconds` of arrival (else the refund
happens: the goods are back and nothing comes); the consumer confirms the replacement
within `auto_confirm_receipt_seconds` of its shipment (else it is confirmed for them).
Only a received order (or a paid 先用后付 one in its window) exchanges, and an order line at
most `exchanges_per_line_max` times (each restarts the window: else payment could be
deferred for ever); a third request is a 409 `exchange_limit_reached`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pynamodb.expressions.update import Action

from ... import errors, timers
from ...clock import iso, parse_iso
from ...config import settings
from ...db import Tx
from ...models import orders as o
from ...models.aftersale import AWAITING_RESHIPMENT, EXCHANGED, RESHIPPED, ReturnRequest
from ...models.catalog import Sku
from ...models.orders import Order
from ...models.timers import Timer
from .. import notifications, stock, webhooks
from ..catalog import get_skus
from ..checkout import out_of_stock
from . import records
from .records import load, move, return_request_of_merchant
from .refunds import deadline, pause, resume, stage

EXCHANGEABLE = (o.RECEIVED, o.PAID)
CHECK_ERRORS = errors.raises(
    conflict=["illegal_transition", "exchange_limit_reached"], unprocessable=["invalid_exchange_items"]
)
# The replacement takes stock (409 `out_of_stock`, as at checkout).
RESHIP_ERRORS = records.NOT_FOUND_ERRORS | records.MOVE_ERRORS | errors.raises(conflict=["out_of_stock"])


def _invalid(message: str) -> errors.DomainError:
    return errors.unprocessable("invalid_exchange_items", message, [errors.FieldError("items", message)])


def check(order: Order, lines: list[tuple[str, int, str | None]]) -> dict[str, dict[str, str]]:
    """Every line names a replacement: another SKU of the same product at the same price.
    Returns each replacement's attributes (what the merchant reships), by SKU id."""
    if order.status not in EXCHANGEABLE:
        raise errors.illegal_transition("order", order.status, "exchange")
    if not lines or any(to is None for _, _, to in lines):
        raise _invalid("an exchange lists its items, each with the to_sku_id wanted instead")
    bought = {i["sku_id"]: i for i in order.items}
    wanted: dict[str, str] = {}
    for sku_id, _, to in lines:
        assert to is not None
        if wanted.setdefault(sku_id, to) != to:
            raise _invalid(f"{sku_id} is exchanged for one SKU only")
    skus = get_skus(wanted.values())
    most = settings().rules.exchanges_per_line_max
    for sku_id, to in wanted.items():
        item, sku = bought.get(sku_id), skus.get(to)
        if item is None:
            raise _invalid(f"{sku_id} is not in this order")
        if int(item.get("exchanges", 0)) >= most:  # each exchange restarts the payment window
            raise errors.conflict("exchange_limit_reached", f"an order line is exchanged at most {most} times")
        if sku is None or not sku.active or sku.product_id != item["product_id"] or to == sku_id:
            raise _invalid(f"{to} is not another SKU of the same product")
        if int(sku.price_fen) != int(item["unit_price_fen"]):
            raise _invalid(f"{to} does not cost what {sku_id} did")
    return {to: dict(sku.attributes or {}) for to, sku in skus.items()}


def arrived(tx: Tx, request: ReturnRequest, order: Order, now: datetime, actor: str) -> None:
    """The goods came back: the merchant now reships the replacement."""
    reship = (timers.AFTERSALE_RESHIP, deadline(settings().rules.aftersale_answer_seconds, now))
    actions = stage(tx, order, None, reship)
    mine = Order.pending_return_id == request.request_id
    pause(tx, order, now, actor, "take back the goods of", actions, "", mine, event="return_arrived")


def _swapped(items: list[dict[str, Any]], request: ReturnRequest, skus: dict[str, Sku]) -> list[dict[str, Any]]:
    out = [dict(i) for i in items]
    for line in request.items:
        q, to = int(line["quantity"]), line["to_sku_id"]
        src = next(i for i in out if i["sku_id"] == line["sku_id"])
        price = int(src["unit_price_fen"])
        src["quantity"] = int(src["quantity"]) - q
        src["line_total_fen"] = int(src["line_total_fen"]) - price * q
        dst = next((i for i in out if i["sku_id"] == to), None)
        if dst is None:
            sku = skus[to]
            dst = {
                # (a replacement's units, if returned, go back to its SKU item: shard 0)
                **{k: v for k, v in src.items() if k not in ("returned_quantity", "stock_takes")},
                "sku_id": to,
                "attributes": dict(sku.attributes or {}),
                "quantity": 0,
                "line_total_fen": 0,
            }
            out.append(dst)
        dst["quantity"] = int(dst["quantity"]) + q
        dst["line_total_fen"] = int(dst["line_total_fen"]) + price * q
        # The replacement line carries the count of exchanges that led to it (at most the limit).
        dst["exchanges"] = max(int(dst.get("exchanges", 0)), int(src.get("exchanges", 0)) + 1)
    return [i for i in out if int(i["quantity"]) > 0]


def reship(merchant_id: str, request_id: str, carrier: str, tracking_number: str, now: datetime) -> ReturnRequest:
    """The replacement is on its way: stock and the order's lines move to the new SKU."""
    request = return_request_of_merchant(merchant_id, request_id)
    if request.status != AWAITING_RESHIPMENT:
        raise errors.illegal_transition("return request", request.status, "reship")
    order = Order.get(request.order_id, consistent_read=True)
    skus = get_skus(line["to_sku_id"] for line in request.items)
    tx = Tx()
    reshipped = [
        ReturnRequest.reship_carrier.set(carrier),
        ReturnRequest.reship_tracking_number.set(tracking_number),
        ReturnRequest.reshipped_at.set(iso(now)),
    ]
    move(tx, request, AWAITING_RESHIPMENT, RESHIPPED, *reshipped)
    webhooks.emit(tx, merchant_id, webhooks.types.EXCHANGE_RESHIPPED, request, now, actions=reshipped)
    moves: dict[str, int] = {}
    for line in request.items:
        moves[line["to_sku_id"]] = moves.get(line["to_sku_id"], 0) + int(line["quantity"])
    for out, q in moves.items():  # the returned goods went back to stock when they arrived
        stock.take_now(tx, out, q, request.order_id, out_of_stock(out))
    wait = (timers.AFTERSALE_REPLACEMENT, deadline(settings().rules.auto_confirm_receipt_seconds, now))
    actions: list[Action] = [Order.items.set(_swapped(order.items, request, skus)), *stage(tx, order, None, wait)]
    mine = Order.pending_return_id == request.request_id
    pause(tx, order, now, f"merchant:{merchant_id}", "reship", actions, "", mine, event="replacement_shipped")
    notifications.notify(
        tx,
        order.user_id,
        notifications.REPLACEMENT_SHIPPED,
        "换货已发出 (replacement shipped)",
        f"order {order.order_id}: {carrier} {tracking_number}",
        order.order_id,
        f"return:{request_id}:reshipped",
        now,
    )
    tx.commit()
    return load(request_id)


def pending_replacement(order: Order) -> ReturnRequest | None:
    """The exchange whose replacement `order` is waiting for, if any."""
    if order.status != o.RETURN_REQUESTED or order.aftersale_timer != timers.AFTERSALE_REPLACEMENT:
        return None
    request = load(str(order.pending_return_id))
    return request if request.status == RESHIPPED else None


def receive_replacement(
    request: ReturnRequest,
    order: Order,
    now: datetime,
    actor: str,
    fired: Timer | None = None,
    *,
    before_commit: Callable[[Tx], None] | None = None,
) -> None:
    """The replacement arrived: the exchange is done; a 先用后付 window restarts (`order` is
    left as written; `before_commit` adds to the write)."""
    rules = settings().rules
    tx = Tx()
    move(tx, request, RESHIPPED, EXCHANGED, ReturnRequest.exchanged_at.set(iso(now)))
    actions = stage(tx, order, fired, None)
    before = request.order_status_before
    due = now + timedelta(seconds=rules.payment_window_seconds)
    # At the instant the window opened the new window is the old one: its timers stand (one
    # transaction cannot both delete and set a timer). Installment parts keep their calendar
    # dates (the schedule shown at checkout).
    if (
        order.payment_method == o.BNPL
        and before == o.RECEIVED
        and order.due_at
        and parse_iso(order.due_at) != due
        and not order.installment_plan
    ):
        old = parse_iso(order.due_at)
        lead = timedelta(seconds=rules.due_reminder_lead_seconds)
        for kind, at in ((timers.PAYMENT_DUE, old), (timers.ORDER_COMPLETION, old), (timers.DUE_REMINDER, old - lead)):
            timers.cancel(tx, kind, order.order_id, at)
        if due - lead > now:
            timers.schedule(tx, timers.DUE_REMINDER, order.order_id, due - lead)
        order.due_at = iso(due)
        actions.append(Order.due_at.set(iso(due)))
    resume(tx, order, before, now, actor, "", actions, event="replacement_received")
    if before_commit is not None:
        before_commit(tx)
    tx.commit()
