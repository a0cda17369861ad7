"""Checkout and payment confirmation (guide steps 第一步 and 第二步), and their expiry.

- `checkout`: prices and stock from the server, one order per merchant, stock reserved
  with conditional writes, an optional coupon reserved, each order `awaiting_confirmation`
  with a single-use challenge that expires (`rules.checkout_ttl_seconds`).
- `confirm`: the payment password or a device signature over the challenge's nonce. 先用后付
  reserves credit in the same transaction and the order is `placed`; a channel order is
  `awaiting_payment` with what the app needs to open the channel.
- `expire_checkouts`: cancels what was not confirmed (or not paid) in time.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pynamodb.exceptions import DoesNotExist

from .. import batch, errors, ledger, timers
from ..clock import iso, parse_iso
from ..config import settings
from ..db import Tx
from ..errors import FieldError
from ..idempotency import IdemScope
from ..models.cart import CartItem
from ..models.catalog import Sku
from ..models.coupons import AVAILABLE, RESERVED, USED, Coupon
from ..models.ledger import Balance
from ..models.orders import AWAITING_CONFIRMATION, AWAITING_PAYMENT, BNPL, PLACED, RISK_REVIEW, Order
from ..models.timers import Timer
from ..models.users import BNPL_ACTIVE, BNPL_FROZEN, User
from ..observability import count, logger
from . import accounts, channel_trades, closing, orders, payments, standing
from .installments import lifecycle as installments
from .order_index import merchant_key
from .orders import CHECKOUT_EXPIRY, MAX_CHECKOUT_LINES
from .risk import decide as risk


@dataclass(frozen=True)
class Line:
    sku_id: str
    quantity: int


@dataclass(frozen=True)
class CheckoutResult:
    orders: list[Order]


@dataclass(frozen=True)
class Confirmation:
    order: Order
    payment: dict[str, Any] | None


def _bnpl_refusal(user: User) -> errors.DomainError | None:
    if user.bnpl_status == BNPL_FROZEN:
        return errors.conflict("bnpl_frozen", "先用后付 is paused until your overdue orders are paid")
    if user.bnpl_status != BNPL_ACTIVE:
        return errors.conflict("bnpl_not_activated", "activate 先用后付 first")
    return None


def credit_insufficient() -> errors.DomainError:
    return errors.conflict("credit_insufficient", "the order is more than your available 先用后付 credit")


def out_of_stock(sku_id: str) -> errors.DomainError:
    return errors.conflict("out_of_stock", f"not enough stock left of SKU {sku_id}")


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
    installment_plan: installments.Request | None = None,
) -> CheckoutResult:
    """Turn a cart or a buy-now list into orders awaiting confirmation, one per merchant.

    Stock is reserved here; 先用后付 credit is checked here and reserved at confirmation.
    A coupon applies to the checkout's largest order and must meet its minimum spend.
    """
    rules = settings().rules
    lines, from_cart = _lines(user_id, items, from_cart)
    if len(lines) > MAX_CHECKOUT_LINES:
        raise errors.unprocessable("too_many_lines", f"check out at most {MAX_CHECKOUT_LINES} SKUs at once")
    # One round trip for everything checkout reads: the user, the SKUs, and only when the
    # request needs them the credit book and the coupon.
    keys: list[batch.Key] = [(User, user_id, None), *((Sku, line.sku_id, None) for line in lines)]
    if payment_method == BNPL:
        keys.append((Balance, ledger.user_account(user_id), ledger.CREDIT))
    if coupon_id:
        keys.append((Coupon, user_id, coupon_id))
    got = batch.get_many(keys)
    found_user = got[0]
    user = found_user if isinstance(found_user, User) else accounts.get_or_create(user_id, now)
    if payment_method == BNPL and (refusal := _bnpl_refusal(user)):
        raise refusal
    skus = {s.sku_id: s for s in got[1 : 1 + len(lines)] if isinstance(s, Sku)}
    credit = next((b for b in got if isinstance(b, Balance)), None)
    found_coupon = next((c for c in got if isinstance(c, Coupon)), None)
    for i, line in enumerate(lines):
        sku = skus.get(line.sku_id)
        if sku is None or not sku.active:
            where = "cart" if from_cart else f"items.{i}.sku_id"
            raise errors.unprocessable(
                "unknown_sku", f"SKU {line.sku_id} is not for sale", [FieldError(where, "unknown")]
            )
        if int(sku.stock) < line.quantity:
            raise out_of_stock(line.sku_id)

    at = iso(now)
    expires = now + timedelta(seconds=rules.checkout_ttl_seconds)
    checkout_id = "co_" + uuid.uuid4().hex[:20]
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
                merchant_key=merchant_key(merchant_id, order_id),
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

    coupon: Coupon | None = None
    if coupon_id:
        coupon = _usable_coupon(found_coupon, now)
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

    installments.attach(new_orders, installment_plan, payment_method)

    if payment_method == BNPL:
        grand_total = sum(int(o.total_fen) for o in new_orders)
        headroom = int(credit.headroom or 0) if credit is not None else 0
        if grand_total > headroom:
            raise credit_insufficient()

    tx = Tx()
    closing.opens(tx, user_id)
    for order in new_orders:
        tx.save(order, condition=Order.order_id.does_not_exist())
        timers.schedule(tx, CHECKOUT_EXPIRY, order.order_id, expires)
    for line in lines:
        tx.update(
            skus[line.sku_id],
            [Sku.stock.add(-line.quantity)],
            condition=(Sku.stock >= line.quantity) & (Sku.active == True),  # noqa: E712 - a DynamoDB condition
            on_fail=out_of_stock(line.sku_id),
        )
        if from_cart:
            tx.delete(CartItem(user_id, line.sku_id))
    if coupon is not None:
        target = next(o for o in new_orders if o.coupon_id == coupon.coupon_id)
        tx.update(
            coupon,
            [Coupon.status.set(RESERVED), Coupon.order_id.set(target.order_id)],
            condition=(Coupon.status == AVAILABLE)
            & (Coupon.expires_at > at)
            & (Coupon.min_spend_fen <= int(target.subtotal_fen)),
            on_fail=errors.conflict("coupon_not_available", "this coupon was just used or has expired"),
        )
    result = CheckoutResult(new_orders)
    if idem is not None:
        idem.stage(tx, result)
    tx.commit()
    count("CheckoutsStarted", len(new_orders))
    logger.info("checkout", extra={"checkout_id": checkout_id, "orders": [o.order_id for o in new_orders]})
    return result


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


def _verify_device_signature(user_id: str, device_id: str, signature: str, nonce: str) -> None:
    key = accounts.device_key(user_id, device_id)
    bad = errors.unprocessable(
        "signature_invalid", "the device signature does not match the challenge", [FieldError("signature", "invalid")]
    )
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, nonce.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise bad from exc


def confirm(
    user_id: str,
    order_id: str,
    *,
    challenge_id: str,
    password: str | None,
    device_id: str | None,
    signature: str | None,
    now: datetime,
    idem: IdemScope | None = None,
) -> Confirmation:
    """Confirm an order with its single-use challenge: password or device signature."""
    found_order, found_user = batch.get_many([(Order, order_id, None), (User, user_id, None)])
    if not isinstance(found_order, Order) or found_order.user_id != user_id:
        raise orders.order_not_found()
    order = found_order
    used = errors.conflict("challenge_used", "this challenge was already used")
    if order.status != AWAITING_CONFIRMATION:
        if order.challenge_used and order.challenge_id == challenge_id:
            raise used
        raise errors.illegal_transition("order", order.status, "confirm")
    if order.challenge_id != challenge_id:
        raise errors.conflict("challenge_mismatch", "this is not the order's current challenge")
    if not order.challenge_expires_at or parse_iso(order.challenge_expires_at) <= now:
        raise errors.conflict("challenge_expired", "the challenge expired; check out again")
    if not isinstance(found_user, User):
        raise errors.not_found("user_not_found", "no such user")
    user = found_user
    if password is not None:  # the try is released by the transaction below (or after it fails)
        accounts.verify_password(user, password, now, release_later=True)
    else:
        assert device_id is not None and signature is not None
        _verify_device_signature(user_id, device_id, signature, str(order.challenge_nonce))

    released = accounts.tries_released() if password is not None else []
    try:
        at = iso(now)
        total = int(order.total_fen)
        challenge_open = (
            (Order.challenge_used == False)  # noqa: E712 - a DynamoDB condition
            & (Order.challenge_id == challenge_id)
            & (Order.challenge_expires_at > at)
        )
        confirmed = [Order.challenge_used.set(True), Order.confirmed_at.set(at)]
        tx = Tx()
        payment: dict[str, Any] | None = None
        verdict: risk.Assessment | None = None
        if order.payment_method == BNPL:
            if refusal := _bnpl_refusal(user):
                raise refusal
            verdict = risk.assess(order, user, device_id=device_id, now=now)
            if verdict.outcome == risk.DECLINE:
                _decline(tx, order, user, verdict, released, now)
                raise risk.bnpl_declined()
            held = verdict.outcome == risk.REVIEW
            verdict.record(tx, order, now)
            if held:  # the merchant sees it only once placed (`confirmed_at`)
                review_due = risk.review_deadline(now)
                confirmed = [Order.challenge_used.set(True), Order.risk_review_due_at.set(iso(review_due))]
                timers.schedule(tx, timers.RISK_REVIEW, order_id, review_due)
                order.risk_review_due_at = iso(review_due)
            orders.transition(
                tx,
                order,
                RISK_REVIEW if held else PLACED,
                now,
                "user",
                allowed_from=(AWAITING_CONFIRMATION,),
                actions=[*confirmed, Order.credit_reserved_fen.set(total), Order.amount_due_fen.set(total)],
                condition=challenge_open,
                on_fail=used,
                verb="confirm",
            )
            order.credit_reserved_fen = order.amount_due_fen = total
            ledger.post(
                tx,
                event_id=f"order:{order_id}:credit_reserved",
                kind="credit_reserved",
                at=now,
                legs=ledger.credit_reserved(user_id, total),
                ref=order_id,
                insufficient=credit_insufficient(),
            )
            installments.on_confirmed(tx, order, now)
            tx.update(
                user,
                [*standing.opened(), *released],
                condition=(User.bnpl_status == BNPL_ACTIVE) & closing.still_open(),
                on_fail=errors.conflict("bnpl_frozen", "先用后付 was paused meanwhile"),
            )
        else:
            pay_by = now + timedelta(seconds=settings().rules.checkout_ttl_seconds)
            orders.transition(
                tx,
                order,
                AWAITING_PAYMENT,
                now,
                "user",
                allowed_from=(AWAITING_CONFIRMATION,),
                actions=[*confirmed, Order.payment_expires_at.set(iso(pay_by))],
                condition=challenge_open,
                on_fail=used,
                verb="confirm",
            )
            order.payment_expires_at = iso(pay_by)
            closing.opens(tx, user_id, released)
            # An unpaid channel order lapses like an unconfirmed one (one timer if the times meet).
            if iso(pay_by) != order.challenge_expires_at:
                timers.schedule(tx, CHECKOUT_EXPIRY, order_id, pay_by)
            payment = payments.start_channel_payment(
                order.payment_method, order_id=order_id, user_id=user_id, amount_fen=total, expires_at=iso(pay_by)
            )
        order.challenge_used = True
        if order.status != RISK_REVIEW:
            order.confirmed_at = at
        if order.coupon_id:
            tx.update(
                Coupon(user_id, order.coupon_id),
                [Coupon.status.set(USED), Coupon.used_at.set(at)],
                condition=(Coupon.status == RESERVED) & (Coupon.order_id == order_id),
                on_fail=errors.conflict("coupon_not_available", "the order's coupon is no longer held for it"),
            )
        if order.payment_expires_at != order.challenge_expires_at:
            timers.cancel(tx, CHECKOUT_EXPIRY, order_id, str(order.challenge_expires_at))
        result = Confirmation(order, payment)
        if idem is not None:
            idem.stage(tx, result)
        try:
            tx.commit()
        except errors.DomainError as exc:  # the user item's condition: frozen, or closing
            raise (closing.refusal(exc, user_id) if exc.code == "bnpl_frozen" else exc) from exc
        if verdict is not None:
            verdict.emit()
    except BaseException:
        if released:
            accounts.release_try(user)
        raise
    if order.status == RISK_REVIEW:
        count("OrdersHeldForReview")
    else:
        count("OrdersPlaced" if order.status == PLACED else "OrdersAwaitingPayment")
    return result


def _decline(tx: Tx, order: Order, user: User, verdict: risk.Assessment, released: list[Any], now: datetime) -> None:
    """The rules declined a 先用后付 confirmation: the checkout is cancelled (stock and coupon
    released, nothing reserved) with the decision recorded, and the buyer may pay another way."""
    verdict.record(tx, order, now)
    orders.release(tx, order, now, "risk", allowed_from=(AWAITING_CONFIRMATION,), note="declined by risk rules")
    if released:
        tx.update(user, released)
    tx.commit()
    verdict.emit()
    count("OrdersDeclinedByRisk")


def expire_checkouts(now: datetime) -> dict[str, int]:
    """Cancel checkouts not confirmed (or channel orders not paid) by their deadline,
    releasing their stock and coupon, and close their open channel trades. Overlapping
    runs are safe: each timer is taken once."""
    return timers.sweep(CHECKOUT_EXPIRY, now, lambda timer: _expire(timer, now))


def _expire(timer: Timer, now: datetime) -> bool:
    try:
        order: Order | None = Order.get(timer.ref, consistent_read=True)
    except DoesNotExist:
        order = None
    tx = Tx()
    timers.take(tx, timer)
    deadline = orders.expiry_deadline(order) if order else None
    if order is None or deadline != timer.due_at or parse_iso(deadline) > now:
        tx.commit()  # a stale timer (the order moved on): just clear it
        return False
    orders.release(tx, order, now, "system", allowed_from=(order.status,), note="checkout expired", taken=timer)
    tx.commit()
    count("CheckoutsExpired")
    if order.payment_method in channel_trades.OPEN_TRADE_CHANNELS:
        channel_trades.close_open_trades(order.order_id, now)
    return True
