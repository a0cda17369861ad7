"""Fulfilment (guide 第三步): shipment, receipt, merchant settlement, reviews. Returns,
exchanges and disputes are in services/aftersale.

Every transition is one conditional transaction on the order's current status; the
settlement and credit movements it causes are ledger entries in that same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from .. import errors, ledger, timers
from ..clock import iso, parse_iso
from ..config import settings
from ..db import Tx
from ..models import orders as o
from ..models.aftersale import Review as Review
from ..models.catalog import Product
from ..models.orders import Order
from ..models.timers import Timer
from ..observability import count
from . import apportion, installments, notifications, orders
from .orders import OrderEvent, transition

if TYPE_CHECKING:
    from ..idempotency import IdemScope

SYSTEM = "system"
ORDER_ERRORS = orders.NOT_FOUND_ERRORS
SHIP_ERRORS = RECEIVE_ERRORS = orders.NOT_FOUND_ERRORS | orders.TRANSITION_ERRORS
REVIEW_ERRORS = orders.NOT_FOUND_ERRORS | errors.raises(
    conflict=["not_received", "already_reviewed"], unprocessable=["invalid_review_item", "invalid_review_text"]
)


# --- loading ------------------------------------------------------------------------------


def order_of_merchant(merchant_id: str, order_id: str) -> Order:
    """The merchant's order (another merchant's is a 404, like a missing one)."""
    try:
        order = Order.get(order_id, consistent_read=True)
    except DoesNotExist as exc:
        raise orders.order_not_found() from exc
    if order.merchant_id != merchant_id:
        raise orders.order_not_found()
    return order


# --- shipment --------------------------------------------------------------------------------


def confirmed_order_of_merchant(merchant_id: str, order_id: str) -> Order:
    """The merchant's order once the buyer confirmed it (an unconfirmed checkout is a 404:
    its delivery address is not the merchant's business yet)."""
    order = order_of_merchant(merchant_id, order_id)
    if not order.confirmed_at:
        raise orders.order_not_found()
    return order


def ship(
    merchant_id: str, order_id: str, carrier: str, tracking_number: str, now: datetime, idem: IdemScope | None = None
) -> orders.Changed:
    """Ship a placed 先用后付 order or a paid channel order; receipt auto-confirms later.
    Answers the order as the write left it (`idem` stages that answer in the write)."""
    order = order_of_merchant(merchant_id, order_id)
    ready = o.PLACED if order.payment_method == o.BNPL else o.PAID
    if order.status != ready or order.shipped_at:
        raise errors.illegal_transition("order", order.status, "ship")
    money = orders.money_of(order)  # shipping moves no money: what it shows is read before
    tx = Tx()
    transition(
        tx,
        order,
        OrderEvent.SHIP,
        now,
        f"merchant:{merchant_id}",
        actions=[
            Order.shipped_at.set(iso(now)),
            Order.carrier.set(carrier),
            Order.tracking_number.set(tracking_number),
        ],
    )
    timers.schedule(
        tx, timers.AUTO_CONFIRM, order_id, now + timedelta(seconds=settings().rules.auto_confirm_receipt_seconds)
    )
    notifications.notify(
        tx,
        order.user_id,
        notifications.ORDER_SHIPPED,
        "已发货 (shipped)",
        f"order {order_id}: {carrier} {tracking_number}",
        order_id,
        f"order:{order_id}:shipped",
        now,
    )
    order.shipped_at, order.carrier, order.tracking_number = iso(now), carrier, tracking_number
    changed = orders.Changed(order, money)
    if idem is not None:
        idem.stage(tx, changed)
    tx.commit()
    count("OrdersShipped")
    return changed


# --- receipt and settlement -----------------------------------------------------------------


def confirm_receipt(
    actor: str,
    order: Order,
    now: datetime,
    *,
    fired: Timer | None = None,
    before_commit: Callable[[Tx], None] | None = None,
) -> Order:
    """Receipt (确认收货): opens the 先用后付 payment window and settles the merchant.

    The merchant is owed the goods' value less the platform fee from this moment, whether
    or not collection later succeeds (the platform carries the collection risk; coupons are
    platform-funded, so the fee and payable are on the list price of the goods kept: see
    `apportion`). Answers the order as the write left it (`before_commit` adds to the write).
    """
    rules = settings().rules
    tx = Tx()
    extra: list[Action] = [Order.received_at.set(iso(now))]
    order.received_at = iso(now)
    if order.payment_method == o.BNPL:
        due = now + timedelta(seconds=rules.payment_window_seconds)
        extra.append(Order.due_at.set(iso(due)))
        order.due_at = iso(due)
        extra += installments.lifecycle.on_receipt(tx, order, due, now)
        timers.schedule(tx, timers.PAYMENT_DUE, order.order_id, due)
        reminder = due - installments.lifecycle.reminder_lead(order)
        if reminder > now:
            timers.schedule(tx, timers.DUE_REMINDER, order.order_id, reminder)
        timers.schedule(tx, timers.ORDER_COMPLETION, order.order_id, due)
    else:
        timers.schedule(
            tx, timers.ORDER_COMPLETION, order.order_id, now + timedelta(seconds=rules.return_window_paid_seconds)
        )
    goods = apportion.kept_goods_fen(order.items)
    payable, fee = apportion.settlement(goods)
    extra += [Order.settled_payable_fen.set(payable), Order.settled_fee_fen.set(fee)]
    order.settled_payable_fen, order.settled_fee_fen = payable, fee
    transition(tx, order, OrderEvent.RECEIVE, now, actor, actions=extra)
    if fired is not None:
        timers.take(tx, fired)
    elif order.shipped_at:
        timers.cancel(
            tx,
            timers.AUTO_CONFIRM,
            order.order_id,
            parse_iso(order.shipped_at) + timedelta(seconds=rules.auto_confirm_receipt_seconds),
        )
    ledger.post(
        tx,
        event_id=f"order:{order.order_id}:settled",
        kind="merchant_settlement",
        at=now,
        ref=order.order_id,
        legs=ledger.merchant_settled(order.merchant_id, payable, fee),
    )
    if before_commit is not None:
        before_commit(tx)
    tx.commit()
    count("OrdersReceived", method=order.payment_method)
    return order


def receive(user_id: str, order_id: str, now: datetime, idem: IdemScope | None = None) -> orders.Changed:
    """Receipt of the goods, or of an exchange's replacement (services/aftersale/exchange.py).

    Answers the order as the write left it; `idem` stages that answer in the write."""
    from . import aftersale  # after-sale builds on fulfilment, not the reverse

    order = orders.get_own(user_id, order_id)
    money = orders.money_of(order)  # receipt moves no money: what it shows is read before

    def stage(tx: Tx) -> None:
        if idem is not None:
            idem.stage(tx, orders.Changed(order, money))

    replacement = aftersale.exchange.pending_replacement(order)
    if replacement is not None:
        aftersale.exchange.receive_replacement(replacement, order, now, f"user:{user_id}", before_commit=stage)
    else:
        confirm_receipt(f"user:{user_id}", order, now, before_commit=stage)
    return orders.Changed(order, money)


def auto_confirm_receipts(now: datetime) -> dict[str, int]:
    """Confirm receipt of orders shipped more than the configured days ago."""

    def act(timer: Timer) -> bool:
        order = Order.get(timer.ref, consistent_read=True)
        if order.status != o.SHIPPED:
            tx = Tx()
            timers.take(tx, timer)
            tx.commit()
            return False
        confirm_receipt(SYSTEM, order, now, fired=timer)
        return True

    return timers.sweep(timers.AUTO_CONFIRM, now, act)


def complete_orders(now: datetime) -> dict[str, int]:
    """Close orders whose return window has passed and that owe nothing: paid → completed
    (先用后付 paid early, at the window's close) and received → completed (paid channels)."""

    def act(timer: Timer) -> bool:
        order = Order.get(timer.ref, consistent_read=True)
        done = o.PAID if order.payment_method == o.BNPL else o.RECEIVED
        tx = Tx()
        timers.take(tx, timer)
        if order.status != done:
            tx.commit()
            return False
        transition(
            tx,
            order,
            OrderEvent.COMPLETE,
            now,
            SYSTEM,
            actions=[Order.completed_at.set(iso(now))],
        )
        tx.commit()
        return True

    return timers.sweep(timers.ORDER_COMPLETION, now, act)


# --- reviews ----------------------------------------------------------------------------------

REVIEWABLE = (o.RECEIVED, o.PAID, o.OVERDUE, o.COMPLETED, o.RETURN_REQUESTED)


def clean_review_text(text: str) -> str:
    """Printable text only; markup is text like any other, returned exactly as sent."""
    return "".join(ch for ch in text if ch.isprintable() or ch in "\n").strip()


def write_review(
    user_id: str,
    order_id: str,
    rating: int,
    text: str,
    sku_id: str | None,
    now: datetime,
    idem: IdemScope | None = None,
) -> list[Review]:
    """Rate (1-5) and review the goods once per order item, after receipt."""
    order = orders.get_own(user_id, order_id)
    if not order.received_at or order.status not in REVIEWABLE:
        raise errors.conflict("not_received", "goods can be reviewed after receipt is confirmed")
    items = [i for i in order.items if sku_id is None or i["sku_id"] == sku_id]
    if not items:
        raise errors.unprocessable(
            "invalid_review_item", "that item is not in this order", [errors.FieldError("sku_id", "not in this order")]
        )
    body = clean_review_text(text)
    if not body:
        raise errors.unprocessable(
            "invalid_review_text",
            "the review needs some text",
            [errors.FieldError("text", "empty after removing control characters")],
        )
    reviews = []
    tx = Tx()
    for item in items:
        review = Review(
            item["product_id"],
            f"{order_id}#{item['sku_id']}",
            order_id=order_id,
            sku_id=item["sku_id"],
            user_id=user_id,
            rating=rating,
            text=body,
            created_at=iso(now),
        )
        tx.save(
            review,
            condition=Review.review_key.does_not_exist(),
            on_fail=errors.conflict("already_reviewed", "this item of the order is already reviewed"),
        )
        reviews.append(review)
    per_product: dict[str, int] = {}
    for item in items:
        per_product[item["product_id"]] = per_product.get(item["product_id"], 0) + 1
    for product_id, n in per_product.items():
        # Counters only: the product's `updated_at` (a merchant edit's guard) stays as it is.
        tx.update(
            Product(product_id),
            [Product.review_count.add(n), Product.rating_sum.add(rating * n)],
            condition=Product.product_id.exists(),
        )
    if idem is not None:
        idem.stage(tx, reviews)
    tx.commit()
    return reviews


def list_reviews(
    product_id: str, limit: int, last_key: dict[str, Any] | None
) -> tuple[list[Review], dict[str, Any] | None]:
    page = Review.query(product_id, limit=limit, last_evaluated_key=last_key, scan_index_forward=False)
    items = list(page)
    return items, page.last_evaluated_key


def merchant_orders(
    merchant_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[Order], str | None]:
    return orders.order_index.merchant_orders(merchant_id, status, limit, cursor)
