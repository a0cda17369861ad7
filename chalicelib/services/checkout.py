"""Checkout (guide step 第一步): a cart or a buy-now list becomes orders awaiting confirmation.

Prices and stock come from the server, one order per merchant, stock reserved with
conditional writes, an optional coupon reserved, each order `awaiting_confirmation` with a
single-use challenge that expires (`rules.checkout_ttl_seconds`). Confirmation is
`confirmation.py`; what lapses is cancelled by `expiry.py`.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .. import batch, errors, ledger, timers
from ..clock import iso
from ..config import settings
from ..db import Tx
from ..errors import FieldError
from ..idempotency import IdemScope
from ..models.cart import CartItem
from ..models.catalog import Sku
from ..models.coupons import AVAILABLE, RESERVED, Coupon
from ..models.ledger import Balance
from ..models.orders import AWAITING_CONFIRMATION, BNPL, Order
from ..models.users import BNPL_ACTIVE, BNPL_FROZEN, User
from ..observability import count, logger
from . import accounts, closing, installments, orders, stock
from .orders import CHECKOUT_EXPIRY, MAX_CHECKOUT_LINES, order_index


@dataclass(frozen=True)
class Line:
    sku_id: str
    quantity: int


@dataclass(frozen=True)
class CheckoutResult:
    orders: list[Order]


@dataclass(frozen=True)
class _Read:
    """What a checkout reads in one round trip."""

    user: User
    skus: dict[str, Sku]
    credit: Balance | None
    coupon: Coupon | None
    stock: stock.Reservation


def bnpl_refusal(user: User) -> errors.DomainError | None:
    """Why this user cannot use 先用后付 now, if they cannot."""
    if user.bnpl_status == BNPL_FROZEN:
        return errors.conflict("bnpl_frozen", "先用后付 is paused until your overdue orders are paid")
    if user.bnpl_status != BNPL_ACTIVE:
        return errors.conflict("bnpl_not_activated", "activate 先用后付 first")
    return None


def credit_insufficient() -> errors.DomainError:
    return errors.conflict("credit_insufficient", "the order is more than your available 先用后付 credit")


def out_of_stock(sku_id: str) -> errors.DomainError:
    return errors.conflict("out_of_stock", f"not enough stock left of SKU {sku_id}")


# What checking out refuses with; a confirmation checks 先用后付 again (`BNPL_ERRORS`).
BNPL_ERRORS = errors.raises(conflict=["bnpl_frozen", "bnpl_not_activated", "credit_insufficient"])
CHECKOUT_ERRORS = (
    closing.CLOSING_ERRORS
    | installments.lifecycle.PLAN_ERRORS
    | BNPL_ERRORS
    | errors.raises(
        conflict=["out_of_stock", "coupon_not_available", "coupon_expired"],
        unprocessable=[
            "cart_empty",
            "duplicate_sku",
            "unknown_sku",
            "too_many_lines",
            "coupon_not_found",
            "coupon_min_spend_not_met",
        ],
    )
)


def _lines(user_id: str, items: Sequence[Line] | None, from_cart: bool) -> tuple[list[Line], bool]:
    if from_cart:
        cart = sorted(CartItem.query(user_id, consistent_read=True), key=lambda i: i.added_at)
        lines = [Line(i.sku_id, int(i.quantity)) for i in cart if i.selected]
        if not lines:
            raise errors.unprocessable("cart_empty", "select something in the cart first")
        return lines, True
    lines = list(items or [])
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if line.sku_id in seen:
            raise errors.unprocessable(
                "duplicate_sku", "list each SKU once", [FieldError(f"items.{i}.sku_id", "listed twice")]
            )
        seen.add(line.sku_id)
    return lines, False


def _usable_coupon(coupon: Coupon | None, now: datetime) -> Coupon:
    if coupon is None:
        raise errors.unprocessable(
            "coupon_not_found", "you have no such coupon", [FieldError("coupon_id", "not yours or unknown")]
        )
    if coupon.status != AVAILABLE:
        raise errors.conflict("coupon_not_available", "this coupon is already used or held by another order")
    if coupon.expires_at <= iso(now):
        raise errors.conflict("coupon_expired", "this coupon has expired")
    return coupon


def checkout(
    user_id: str,
    *,
    items: Sequence[Line] | None,
    from_cart: bool,
    payment_method: str,
    coupon_id: str | None,
    address: dict[str, str],
    now: datetime,
    idem: IdemScope | None = None,
    installment_plan: installments.lifecycle.Request | None = None,
) -> CheckoutResult:
    """Turn a cart or a buy-now list into orders awaiting confirmation, one per merchant.

    Stock is reserved here; 先用后付 credit is checked here and reserved at confirmation.
    A coupon applies to the checkout's largest order and must meet its minimum spend.
    """
    lines, from_cart = _lines(user_id, items, from_cart)
    if len(lines) > MAX_CHECKOUT_LINES:
        raise errors.unprocessable("too_many_lines", f"check out at most {MAX_CHECKOUT_LINES} SKUs at once")
    read = _read(user_id, lines, payment_method, coupon_id, from_cart, now)
    expires = now + timedelta(seconds=settings().rules.checkout_ttl_seconds)
    checkout_id = "co_" + uuid.uuid4().hex[:20]
    new_orders = _new_orders(user_id, lines, read.skus, payment_method, address, checkout_id, now, expires)
    coupon = _apply_coupon(read.coupon, new_orders, now) if coupon_id else None
    installments.lifecycle.attach(new_orders, installment_plan, payment_method)
    if payment_method == BNPL:
        grand_total = sum(int(o.total_fen) for o in new_orders)
        headroom = int(read.credit.headroom or 0) if read.credit is not None else 0
        if grand_total > headroom:
            raise credit_insufficient()

    tx = Tx()
    closing.opens(tx, user_id)
    for order in new_orders:
        tx.save(order, condition=Order.order_id.does_not_exist())
        timers.schedule(tx, CHECKOUT_EXPIRY, order.order_id, expires)
    reserve_stock(tx, read.stock, lines, new_orders)
    if from_cart:
        for line in lines:
            tx.delete(CartItem(user_id, line.sku_id))
    if coupon is not None:
        _reserve_coupon(tx, coupon, new_orders, now)
    result = CheckoutResult(new_orders)
    if idem is not None:
        idem.stage(tx, result)
    tx.commit()
    count("CheckoutsStarted", len(new_orders))
    logger.info("checkout", extra={"checkout_id": checkout_id, "orders": [o.order_id for o in new_orders]})
    return result


def _read(
    user_id: str, lines: list[Line], payment_method: str, coupon_id: str | None, from_cart: bool, now: datetime
) -> _Read:
    """One round trip for everything checkout reads: the user, the SKUs, and only when the
    request needs them the credit book and the coupon. Unknown SKUs and short stock refuse."""
    reservation = stock.Reservation([(line.sku_id, line.quantity) for line in lines], spread=user_id)
    keys: list[batch.Key] = [(User, user_id, None), *reservation.keys]
    if payment_method == BNPL:
        keys.append((Balance, ledger.user_account(user_id), ledger.CREDIT))
    if coupon_id:
        keys.append((Coupon, user_id, coupon_id))
    got = batch.get_many(keys)
    found_user = got[0]
    user = found_user if isinstance(found_user, User) else accounts.get_or_create(user_id, now)
    if payment_method == BNPL and (refusal := bnpl_refusal(user)):
        raise refusal
    skus = reservation.resolve(got[1 : 1 + len(reservation.keys)])
    for i, line in enumerate(lines):
        sku = skus.get(line.sku_id)
        if sku is None or not sku.active:
            where = "cart" if from_cart else f"items.{i}.sku_id"
            raise errors.unprocessable(
                "unknown_sku", f"SKU {line.sku_id} is not for sale", [FieldError(where, "unknown")]
            )
        if int(sku.stock) < line.quantity:
            raise out_of_stock(line.sku_id)
    credit = next((b for b in got if isinstance(b, Balance)), None)
    coupon = next((c for c in got if isinstance(c, Coupon)), None)
    return _Read(user, skus, credit, coupon, reservation)


def _new_orders(
    user_id: str,
    lines: list[Line],
    skus: dict[str, Sku],
    payment_method: str,
    address: dict[str, str],
    checkout_id: str,
    now: datetime,
    expires: datetime,
) -> list[Order]:
    """One order per merchant, in the order its lines were listed, awaiting confirmation."""
    at = iso(now)
    by_merchant: dict[str, list[Line]] = {}
    for line in lines:
        by_merchant.setdefault(skus[line.sku_id].merchant_id, []).append(line)
    new_orders: list[Order] = []
    for merchant_id, merchant_lines in by_merchant.items():
        order_items = [_order_line(skus[line.sku_id], line.quantity) for line in merchant_lines]
        subtotal = sum(int(item["line_total_fen"]) for item in order_items)
        order_id = "o_" + uuid.uuid4().hex[:20]
        new_orders.append(
            Order(
                order_id,
                checkout_id=checkout_id,
                user_id=user_id,
                merchant_id=merchant_id,
                merchant_key=order_index.merchant_key(merchant_id, order_id),
                created_key=f"{at}#{order_id}",
                status=AWAITING_CONFIRMATION,
                payment_method=payment_method,
                items=order_items,
                subtotal_fen=subtotal,
                discount_fen=0,
                total_fen=subtotal,
                amount_due_fen=0,
                credit_reserved_fen=0,
                address=dict(address),
                created_at=at,
                updated_at=at,
                history=[orders.history_entry(AWAITING_CONFIRMATION, now, "user")],
                challenge_id="ch_" + uuid.uuid4().hex[:20],
                challenge_nonce=secrets.token_urlsafe(24),
                challenge_expires_at=iso(expires),
                challenge_used=False,
            )
        )
    return new_orders


def _order_line(sku: Sku, quantity: int) -> dict[str, Any]:
    return {
        "sku_id": sku.sku_id,
        "product_id": sku.product_id,
        "name": sku.product_name,
        "attributes": dict(sku.attributes or {}),
        "unit_price_fen": int(sku.price_fen),
        "quantity": quantity,
        "line_total_fen": int(sku.price_fen) * quantity,
        "returned_quantity": 0,
    }


def _apply_coupon(found: Coupon | None, new_orders: list[Order], now: datetime) -> Coupon:
    """The coupon discounts the checkout's largest order, which must meet its minimum spend."""
    coupon = _usable_coupon(found, now)
    target = max(new_orders, key=lambda o: int(o.subtotal_fen))
    if int(target.subtotal_fen) < int(coupon.min_spend_fen):
        raise errors.unprocessable(
            "coupon_min_spend_not_met",
            f"this coupon needs an order of at least {int(coupon.min_spend_fen)} fen",
            [FieldError("coupon_id", "minimum spend not met")],
        )
    discount = min(int(coupon.discount_fen), int(target.subtotal_fen))
    target.coupon_id = coupon.coupon_id
    target.discount_fen = discount
    target.total_fen = int(target.subtotal_fen) - discount
    return coupon


def reserve_stock(tx: Tx, reservation: stock.Reservation, lines: Sequence[Line], new_orders: list[Order]) -> None:
    """Take each line's quantity off its SKU's stock (its shards: services/stock.py) in `tx`,
    recording the shards on the order line (saved when `tx` commits): short stock, a SKU
    taken off sale or a price changed meanwhile fails the checkout with 409 `out_of_stock`."""
    items = {item["sku_id"]: item for order in new_orders for item in order.items}
    for line in lines:
        takes = reservation.take(tx, line.sku_id, out_of_stock(line.sku_id))
        stock.record(items[line.sku_id], takes)


def _reserve_coupon(tx: Tx, coupon: Coupon, new_orders: list[Order], now: datetime) -> None:
    target = next(o for o in new_orders if o.coupon_id == coupon.coupon_id)
    tx.update(
        coupon,
        [Coupon.status.set(RESERVED), Coupon.order_id.set(target.order_id)],
        condition=(Coupon.status == AVAILABLE)
        & (Coupon.expires_at > iso(now))
        & (Coupon.min_spend_fen <= int(target.subtotal_fen)),
        on_fail=errors.conflict("coupon_not_available", "this coupon was just used or has expired"),
    )
