"""Payment confirmation (guide step 第二步): the payment password or a device signature over
the challenge's nonce.

先用后付 is decided by the risk rules, reserves credit in the same transaction, and the order
is `placed` (or held in `risk_review`); a channel order is `awaiting_payment` with what the
app needs to open the channel.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from .. import batch, errors, ledger, timers
from ..clock import iso, parse_iso
from ..config import settings
from ..db import Tx
from ..errors import FieldError
from ..idempotency import IdemScope
from ..models.coupons import RESERVED, USED, Coupon
from ..models.orders import AWAITING_CONFIRMATION, BNPL, PLACED, RISK_REVIEW, Order
from ..models.users import BNPL_ACTIVE, User
from ..observability import count
from . import accounts, closing, devices, installments, orders, payments, risk
from .checkout import BNPL_ERRORS, bnpl_refusal, credit_insufficient
from .orders import CHECKOUT_EXPIRY, OrderEvent, standing

CONFIRM_ERRORS = (
    orders.NOT_FOUND_ERRORS
    | orders.TRANSITION_ERRORS
    | closing.CLOSING_ERRORS
    | BNPL_ERRORS
    | accounts.STEP_UP_ERRORS
    | risk.decide.ASSESS_ERRORS
    | payments.LAUNCH_ERRORS
    | errors.raises(
        conflict=["challenge_used", "challenge_mismatch", "challenge_expired", "coupon_not_available", "state_changed"],
        unprocessable=["signature_invalid"],
    )
)
P = ParamSpec("P")
RISK_TRIES = 3  # decisions made again when racing confirmations moved the counters they read
# The buyer's user item is read with the order: missing only if the store lost it (not documented).
USER_ERRORS = errors.raises(not_found=["user_not_found"])


@dataclass(frozen=True)
class Confirmation:
    order: Order
    payment: dict[str, Any] | None


@dataclass(frozen=True)
class _Step:
    """What every confirmation writes on the order, and how a lost race reads."""

    challenge_open: Condition
    confirmed: list[Action]
    used: errors.DomainError


def _verify_device_signature(user_id: str, device_id: str, signature: str, nonce: str) -> None:
    key = devices.device_key(user_id, device_id)
    bad = errors.unprocessable(
        "signature_invalid", "the device signature does not match the challenge", [FieldError("signature", "invalid")]
    )
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, nonce.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise bad from exc


def _challenged(user_id: str, order_id: str, challenge_id: str, now: datetime) -> tuple[Order, User]:
    """The caller's order awaiting confirmation with this open challenge, and the caller."""
    found_order, found_user = batch.get_many([(Order, order_id, None), (User, user_id, None)])
    if not isinstance(found_order, Order) or found_order.user_id != user_id:
        raise orders.order_not_found()
    order = found_order
    if order.status != AWAITING_CONFIRMATION:
        if order.challenge_used and order.challenge_id == challenge_id:
            raise _challenge_used()
        raise errors.illegal_transition("order", order.status, "confirm")
    if order.challenge_id != challenge_id:
        raise errors.conflict("challenge_mismatch", "this is not the order's current challenge")
    if not order.challenge_expires_at or parse_iso(order.challenge_expires_at) <= now:
        raise errors.conflict("challenge_expired", "the challenge expired; check out again")
    if not isinstance(found_user, User):
        raise errors.not_found("user_not_found", "no such user")
    return order, found_user


def _challenge_used() -> errors.DomainError:
    return errors.conflict("challenge_used", "this challenge was already used")


def _deciding_again(fn: Callable[P, Confirmation]) -> Callable[P, Confirmation]:
    """A 先用后付 decision whose counters another confirmation added to meanwhile (its
    transaction's condition failed) is made again from fresh reads, `RISK_TRIES` times at
    most (then `state_changed`, retryable)."""

    @functools.wraps(fn)
    def deciding(*args: P.args, **kwargs: P.kwargs) -> Confirmation:
        for _ in range(RISK_TRIES):
            try:
                return fn(*args, **kwargs)
            except errors.DomainError as err:
                if err.code != risk.decide.COUNTS_MOVED:
                    raise
        raise errors.state_changed("other confirmations were decided meanwhile; retry")

    return deciding


@_deciding_again
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
    """Confirm an order with its single-use challenge: password or device signature (a
    decision raced by another confirmation's is made again: `_deciding_again`)."""
    order, user = _challenged(user_id, order_id, challenge_id, now)
    if password is not None:  # the try is released by the transaction below (or after it fails)
        accounts.verify_password(user, password, now, release_later=True)
    else:
        assert device_id is not None and signature is not None
        _verify_device_signature(user_id, device_id, signature, str(order.challenge_nonce))

    released = accounts.tries_released() if password is not None else []
    try:
        result = _commit(order, user, challenge_id, device_id, released, now, idem)
    except BaseException:
        if released:
            accounts.release_try(user)
        raise
    if order.status == RISK_REVIEW:
        count("OrdersHeldForReview")
    else:
        count("OrdersPlaced" if order.status == PLACED else "OrdersAwaitingPayment")
    return result


def _commit(
    order: Order,
    user: User,
    challenge_id: str,
    device_id: str | None,
    released: list[Any],
    now: datetime,
    idem: IdemScope | None,
) -> Confirmation:
    """The confirmation's one transaction: the order's step, and what it holds or uses."""
    at = iso(now)
    step = _Step(
        challenge_open=(
            (Order.challenge_used == False)  # noqa: E712 - a DynamoDB condition
            & (Order.challenge_id == challenge_id)
            & (Order.challenge_expires_at > at)
        ),
        confirmed=[Order.challenge_used.set(True), Order.confirmed_at.set(at)],
        used=_challenge_used(),
    )
    tx = Tx()
    payment: dict[str, Any] | None = None
    verdict: risk.decide.Assessment | None = None
    if order.payment_method == BNPL:
        verdict = _confirm_bnpl(tx, order, user, step, device_id, released, now)
    else:
        payment = _confirm_channel(tx, order, step, released, now)
    order.challenge_used = True
    if order.status != RISK_REVIEW:
        order.confirmed_at = at
    if order.coupon_id:
        tx.update(
            Coupon(order.user_id, order.coupon_id),
            [Coupon.status.set(USED), Coupon.used_at.set(at)],
            condition=(Coupon.status == RESERVED) & (Coupon.order_id == order.order_id),
            on_fail=errors.conflict("coupon_not_available", "the order's coupon is no longer held for it"),
        )
    if order.payment_expires_at != order.challenge_expires_at:
        timers.cancel(tx, CHECKOUT_EXPIRY, order.order_id, str(order.challenge_expires_at))
    result = Confirmation(order, payment)
    if idem is not None:
        idem.stage(tx, result)
    try:
        tx.commit()
    except errors.DomainError as exc:  # the user item's condition: frozen, or closing
        raise (closing.refusal(exc, order.user_id) if exc.code == "bnpl_frozen" else exc) from exc
    if verdict is not None:
        verdict.emit()
    return result


def _confirm_bnpl(
    tx: Tx, order: Order, user: User, step: _Step, device_id: str | None, released: list[Any], now: datetime
) -> risk.decide.Assessment:
    """先用后付: the risk rules decide; placed (or held for review) with credit reserved."""
    if refusal := bnpl_refusal(user):
        raise refusal
    verdict = risk.decide.assess(order, user, device_id=device_id, now=now)
    if verdict.outcome == risk.decide.DECLINE:
        _decline(tx, order, user, verdict, released, now)
        raise risk.decide.bnpl_declined()
    held = verdict.outcome == risk.decide.REVIEW
    verdict.record(tx, order, now)
    confirmed = step.confirmed
    if held:  # the merchant sees it only once placed (`confirmed_at`)
        review_due = risk.decide.review_deadline(now)
        confirmed = [Order.challenge_used.set(True), Order.risk_review_due_at.set(iso(review_due))]
        timers.schedule(tx, timers.RISK_REVIEW, order.order_id, review_due)
        order.risk_review_due_at = iso(review_due)
    total = int(order.total_fen)
    orders.transition(
        tx,
        order,
        OrderEvent.HOLD_FOR_REVIEW if held else OrderEvent.CONFIRM,
        now,
        "user",
        actions=[*confirmed, Order.credit_reserved_fen.set(total), Order.amount_due_fen.set(total)],
        condition=step.challenge_open,
        on_fail=step.used,
    )
    order.credit_reserved_fen = order.amount_due_fen = total
    ledger.post(
        tx,
        event_id=f"order:{order.order_id}:credit_reserved",
        kind="credit_reserved",
        at=now,
        legs=ledger.credit_reserved(order.user_id, total),
        ref=order.order_id,
        insufficient=credit_insufficient(),
    )
    installments.lifecycle.on_confirmed(tx, order, now)
    tx.update(
        user,
        [*standing.opened(), *released],
        condition=(User.bnpl_status == BNPL_ACTIVE) & closing.still_open(),
        on_fail=errors.conflict("bnpl_frozen", "先用后付 was paused meanwhile"),
    )
    return verdict


def _confirm_channel(tx: Tx, order: Order, step: _Step, released: list[Any], now: datetime) -> dict[str, Any]:
    """A channel order awaits its payment, which lapses like an unconfirmed checkout."""
    pay_by = now + timedelta(seconds=settings().rules.checkout_ttl_seconds)
    orders.transition(
        tx,
        order,
        OrderEvent.CONFIRM_CHANNEL,
        now,
        "user",
        actions=[*step.confirmed, Order.payment_expires_at.set(iso(pay_by))],
        condition=step.challenge_open,
        on_fail=step.used,
    )
    order.payment_expires_at = iso(pay_by)
    closing.opens(tx, order.user_id, released)
    # An unpaid channel order lapses like an unconfirmed one (one timer if the times meet).
    if iso(pay_by) != order.challenge_expires_at:
        timers.schedule(tx, CHECKOUT_EXPIRY, order.order_id, pay_by)
    return payments.start_channel_payment(
        order.payment_method,
        order_id=order.order_id,
        user_id=order.user_id,
        amount_fen=int(order.total_fen),
        expires_at=iso(pay_by),
    )


def _decline(
    tx: Tx, order: Order, user: User, verdict: risk.decide.Assessment, released: list[Any], now: datetime
) -> None:
    """The rules declined a 先用后付 confirmation: the checkout is cancelled (stock and coupon
    released, nothing reserved) with the decision recorded, and the buyer may pay another way."""
    verdict.record(tx, order, now)
    orders.release(tx, order, now, "risk", event=OrderEvent.DECLINE, note="declined by risk rules")
    if released:
        tx.update(user, released)
    tx.commit()
    verdict.emit()
    count("OrdersDeclinedByRisk")
