"""Fulfilment and after-sale (guide 第三步/第四步): shipment, receipt, returns and refunds,
reviews, merchant settlement.

Every transition is one conditional transaction on the order's current status; the
settlement and credit movements it causes are ledger entries in that same transaction.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from .. import errors, ledger, pagination, timers
from ..clock import iso, parse_iso
from ..config import settings
from ..db import Tx
from ..jobs import job
from ..ledger import PLATFORM, Leg
from ..models import orders as o
from ..models.aftersale import APPROVED, PENDING, REJECTED, Refund, ReturnRequest, Review
from ..models.catalog import Product
from ..models.orders import Order
from ..models.timers import Timer
from ..models.users import BNPL_ACTIVE, BNPL_FROZEN, User
from ..observability import count
from . import apportion, obligations, orders, rewards
from .orders import transition

SYSTEM = "system"
UNPAID_BNPL = (o.SHIPPED, o.RECEIVED, o.OVERDUE)  # 先用后付 states where money is still owed


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


def ship(merchant_id: str, order_id: str, carrier: str, tracking_number: str, now: datetime) -> Order:
    """Ship a placed 先用后付 order or a paid channel order; receipt auto-confirms later."""
    order = order_of_merchant(merchant_id, order_id)
    ready = o.PLACED if order.payment_method == o.BNPL else o.PAID
    if order.status != ready or order.shipped_at:
        raise errors.illegal_transition("order", order.status, "ship")
    tx = Tx()
    transition(
        tx,
        order,
        o.SHIPPED,
        now,
        f"merchant:{merchant_id}",
        allowed_from=(ready,),
        verb="ship",
        actions=[
            Order.shipped_at.set(iso(now)),
            Order.carrier.set(carrier),
            Order.tracking_number.set(tracking_number),
        ],
    )
    timers.schedule(
        tx, "auto_confirm", order_id, now + timedelta(seconds=settings().rules.auto_confirm_receipt_seconds)
    )
    tx.commit()
    count("OrdersShipped")
    return Order.get(order_id, consistent_read=True)


# --- receipt and settlement -----------------------------------------------------------------


def confirm_receipt(actor: str, order: Order, now: datetime, *, fired: Timer | None = None) -> Order:
    """Receipt (确认收货): opens the 先用后付 payment window and settles the merchant.

    The merchant is owed the goods' value less the platform fee from this moment, whether
    or not collection later succeeds (the platform carries the collection risk; coupons are
    platform-funded, so the fee and payable are on the list price of the goods kept: see
    `apportion`).
    """
    rules = settings().rules
    tx = Tx()
    extra: list[Action] = [Order.received_at.set(iso(now))]
    if order.payment_method == o.BNPL:
        due = now + timedelta(seconds=rules.payment_window_seconds)
        extra.append(Order.due_at.set(iso(due)))
        timers.schedule(tx, "payment_due", order.order_id, due)
        reminder = due - timedelta(seconds=rules.due_reminder_lead_seconds)
        if reminder > now:
            timers.schedule(tx, "due_reminder", order.order_id, reminder)
        timers.schedule(tx, "order_completion", order.order_id, due)
    else:
        timers.schedule(
            tx, "order_completion", order.order_id, now + timedelta(seconds=rules.return_window_paid_seconds)
        )
    goods = apportion.kept_goods_fen(order.items)
    payable, fee = apportion.settlement(goods)
    extra += [Order.settled_payable_fen.set(payable), Order.settled_fee_fen.set(fee)]
    transition(tx, order, o.RECEIVED, now, actor, allowed_from=(o.SHIPPED,), verb="confirm receipt of", actions=extra)
    if fired is not None:
        timers.take(tx, fired)
    elif order.shipped_at:
        timers.cancel(
            tx,
            "auto_confirm",
            order.order_id,
            parse_iso(order.shipped_at) + timedelta(seconds=rules.auto_confirm_receipt_seconds),
        )
    ledger.post(
        tx,
        event_id=f"order:{order.order_id}:settled",
        kind="merchant_settlement",
        at=now,
        ref=order.order_id,
        legs=[
            Leg(ledger.merchant_account(order.merchant_id), ledger.PAYABLE, payable),
            Leg(PLATFORM, "fee_revenue", fee),
            Leg(PLATFORM, "merchant_funding", -goods),
        ],
    )
    tx.commit()
    count("OrdersReceived", method=order.payment_method)
    return Order.get(order.order_id, consistent_read=True)


def receive(user_id: str, order_id: str, now: datetime) -> Order:
    order = orders.get_own(user_id, order_id)
    return confirm_receipt(f"user:{user_id}", order, now)


@job("auto_confirm_receipts")
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

    return timers.sweep("auto_confirm", now, act)


@job("complete_orders")
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
            o.COMPLETED,
            now,
            SYSTEM,
            allowed_from=(done,),
            verb="complete",
            actions=[Order.completed_at.set(iso(now))],
        )
        tx.commit()
        return True

    return timers.sweep("order_completion", now, act)


# --- returns and refunds ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnLine:
    sku_id: str
    quantity: int


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
    return [{"sku_id": sku, "quantity": q, "goods_fen": prices[sku] * q} for sku, q in lines]


def request_return(
    user_id: str, order_id: str, reason: str, items: list[ReturnLine] | None, now: datetime
) -> ReturnRequest:
    """Ask the merchant to take goods back; a pending request pauses collection."""
    order = orders.get_own(user_id, order_id)
    if order.pending_return_id:
        raise errors.conflict("return_already_pending", "this order already has a return request waiting")
    if not _return_window_open(order, now):
        raise errors.illegal_transition("order", order.status, "return")
    lines = _lines_to_return(order, items)
    # The discount shared so that all returns together give back exactly the total.
    amounts = apportion.return_amounts(order, [(line["sku_id"], int(line["quantity"])) for line in lines])
    amount = sum(amounts)
    request = ReturnRequest(
        "ret_" + uuid.uuid4().hex[:20],
        order_id=order_id,
        user_id=user_id,
        merchant_id=order.merchant_id,
        created_key=f"{iso(now)}#{order_id}",
        status=PENDING,
        reason=reason,
        items=[{**line, "amount_fen": line_amount} for line, line_amount in zip(lines, amounts, strict=True)],
        amount_fen=amount,
        order_status_before=order.status,
        created_at=iso(now),
    )
    tx = Tx()
    tx.save(request, condition=ReturnRequest.request_id.does_not_exist())
    transition(
        tx,
        order,
        o.RETURN_REQUESTED,
        now,
        f"user:{user_id}",
        allowed_from=(order.status,),
        verb="return",
        actions=[Order.pending_return_id.set(request.request_id)],
        note=reason,
    )
    tx.commit()
    return request


def return_request_of_merchant(merchant_id: str, request_id: str) -> ReturnRequest:
    try:
        request = ReturnRequest.get(request_id, consistent_read=True)
    except DoesNotExist as exc:
        raise errors.not_found("return_request_not_found", "no such return request") from exc
    if request.merchant_id != merchant_id:
        raise errors.not_found("return_request_not_found", "no such return request")
    return request


def decide_return(merchant_id: str, request_id: str, approve: bool, note: str, now: datetime) -> ReturnRequest:
    """The merchant approves (credit released or money refunded) or rejects a return."""
    request = return_request_of_merchant(merchant_id, request_id)
    if request.status != PENDING:
        raise errors.illegal_transition("return request", request.status, "decide")
    order = Order.get(request.order_id, consistent_read=True)
    actor = f"merchant:{merchant_id}"
    tx = Tx()
    tx.update(
        request,
        [
            ReturnRequest.status.set(APPROVED if approve else REJECTED),
            ReturnRequest.note.set(note),
            ReturnRequest.decided_at.set(iso(now)),
        ],
        condition=ReturnRequest.status == PENDING,
        on_fail=errors.conflict("illegal_transition", "this return request was already decided"),
    )
    before = request.order_status_before
    if not approve:
        transition(
            tx,
            order,
            before,
            now,
            actor,
            allowed_from=(o.RETURN_REQUESTED,),
            verb="reject the return of",
            actions=[Order.pending_return_id.remove()],
            note=note,
        )
        # Timers that fell due while the request paused the order were dropped: set them again.
        obligations.rearm(tx, order)
        tx.commit()
        return ReturnRequest.get(request_id, consistent_read=True)

    _approve(tx, order, request, now, actor, note)
    tx.commit()
    count("ReturnsApproved")
    return ReturnRequest.get(request_id, consistent_read=True)


def _approve(tx: Tx, order: Order, request: ReturnRequest, now: datetime, actor: str, note: str) -> None:
    before = request.order_status_before
    amount = int(request.amount_fen)
    returned = {line["sku_id"]: int(line["quantity"]) for line in request.items}
    items = [
        {**i, "returned_quantity": int(i.get("returned_quantity", 0)) + returned.get(i["sku_id"], 0)}
        for i in order.items
    ]
    full = all(int(i["returned_quantity"]) >= int(i["quantity"]) for i in items)
    unpaid_bnpl = order.payment_method == o.BNPL and before in UNPAID_BNPL
    extra: list[Action] = [
        Order.items.set(items),
        Order.refunded_fen.add(amount),
        Order.pending_return_id.remove(),
    ]
    if unpaid_bnpl:
        release = min(amount, int(order.credit_reserved_fen or 0))
        extra += [Order.amount_due_fen.add(-amount), Order.credit_reserved_fen.add(-release)]
        ledger.post(
            tx,
            event_id=f"return:{request.request_id}:credit_released",
            kind="credit_released",
            at=now,
            ref=order.order_id,
            legs=[
                Leg(ledger.user_account(order.user_id), ledger.CREDIT, -release),
                Leg(PLATFORM, "credit_extended", release),
            ],
        )
        if full:
            _close_unpaid_bnpl(tx, order.user_id, was_overdue=before == o.OVERDUE)
    else:
        refund = Refund(
            f"refund_{request.request_id}",
            order_id=order.order_id,
            user_id=order.user_id,
            channel=order.paid_channel or order.payment_method,
            amount_fen=amount,
            created_at=iso(now),
        )
        tx.save(refund, condition=Refund.refund_id.does_not_exist())
        timers.schedule(tx, "refund", refund.refund_id, now)
        # Points, the on-time count and the limit step it earned follow the money back.
        rewards.on_refunded(tx, order, amount, now, full=full).apply(tx, User(order.user_id))
    if order.received_at:
        extra += _reverse_settlement(tx, order, request, items, now)
    transition(
        tx,
        order,
        o.RETURNED if full else before,
        now,
        actor,
        allowed_from=(o.RETURN_REQUESTED,),
        verb="approve the return of",
        actions=extra,
        note=note,
    )
    if unpaid_bnpl:
        order.amount_due_fen = int(order.amount_due_fen or 0) - amount
    obligations.rearm(tx, order)  # a partial return leaves the rest owed: its timers again


def _close_unpaid_bnpl(tx: Tx, user_id: str, *, was_overdue: bool) -> None:
    """A 先用后付 order no longer owes anything: it stops counting as unpaid (and overdue)."""
    user = User.get(user_id, consistent_read=True)
    actions: list[Action] = [User.unpaid_bnpl_count.add(-1)]
    condition = User.unpaid_bnpl_count > 0
    if was_overdue:
        actions.append(User.overdue_open_count.add(-1))
        condition &= User.overdue_open_count == user.overdue_open_count
        if int(user.overdue_open_count or 0) <= 1 and user.bnpl_status == BNPL_FROZEN:
            actions.append(User.bnpl_status.set(BNPL_ACTIVE))
    tx.update(
        user,
        actions,
        condition=condition,
        on_fail=errors.conflict("state_changed", "the account changed meanwhile; retry"),
    )


def _reverse_settlement(
    tx: Tx, order: Order, request: ReturnRequest, items: list[dict[str, Any]], now: datetime
) -> list[Action]:
    """Take back what was settled less the settlement of the goods still kept (`items`)."""
    payable, fee = apportion.settlement_reversal(
        int(order.settled_payable_fen or 0), int(order.settled_fee_fen or 0), apportion.kept_goods_fen(items)
    )
    ledger.post(
        tx,
        event_id=f"return:{request.request_id}:settlement_reversed",
        kind="merchant_settlement_reversed",
        at=now,
        ref=order.order_id,
        legs=[
            Leg(ledger.merchant_account(order.merchant_id), ledger.PAYABLE, -payable),
            Leg(PLATFORM, "fee_revenue", -fee),
            Leg(PLATFORM, "merchant_funding", payable + fee),
        ],
    )
    return [Order.settled_payable_fen.add(-payable), Order.settled_fee_fen.add(-fee)]


# --- reviews ----------------------------------------------------------------------------------

REVIEWABLE = (o.RECEIVED, o.PAID, o.OVERDUE, o.COMPLETED, o.RETURN_REQUESTED)


def clean_review_text(text: str) -> str:
    """Printable text only; markup is kept as text and escaped when shown."""
    return "".join(ch for ch in text if ch.isprintable() or ch in "\n").strip()


def write_review(
    user_id: str, order_id: str, rating: int, text: str, sku_id: str | None, now: datetime
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
    tx.commit()
    return reviews


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def list_reviews(
    product_id: str, limit: int, last_key: dict[str, Any] | None
) -> tuple[list[Review], dict[str, Any] | None]:
    page = Review.query(product_id, limit=limit, last_evaluated_key=last_key, scan_index_forward=False)
    items = list(page)
    return items, page.last_evaluated_key


def merchant_orders(
    merchant_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[Order], str | None]:
    from .order_index import merchant_orders as sharded

    return sharded(merchant_id, status, limit, cursor)


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
