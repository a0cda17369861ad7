"""Launching a channel payment: the app's data to open Alipay / WeChat Pay (checkout's for an
order awaiting payment, or for card and wallet the pay-now path; pay now and bills share
`start_trade`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ... import channels, errors
from ...channels import base as ch
from ...channels import http
from ...clock import clock
from ...db import Tx
from ...models.payments import PaymentAttempt
from ...observability import count, logger
from .attempts import CHANNEL_NAMES, CHECKOUT, attempts_for, new_attempt, open_trade, payment_ref, save_attempt
from .intake import reconcile

LAUNCH_ERRORS = errors.raises(conflict=["payment_in_progress"], unavailable=["temporarily_unavailable"])


def start_trade(attempt: PaymentAttempt, expires_at: str | None = None) -> dict[str, Any]:
    """The channel's launch data for `attempt`'s trade. A channel that does not answer is a
    503 `temporarily_unavailable` (tap again: the same trade); one that will not open it again
    raises `base.TradeNotOpen` for the caller to settle from the channel's query."""
    try:
        return channels.get(attempt.channel).start_payment(payment_ref(attempt, expires_at))
    except http.ChannelUnavailable as exc:
        logger.warning("channel launch unanswered", extra={"attempt_id": attempt.attempt_id, "reason": str(exc)})
        count("ChannelLaunchUnanswered", channel=attempt.channel)
        raise errors.unavailable("temporarily_unavailable", "the payment channel did not answer; retry") from exc


def settle_refused(attempt: PaymentAttempt, gone: ch.TradeNotOpen, now: datetime) -> None:
    """A recorded trade its channel will not open again, settled from the channel's query:
    paid there → 409 `payment_in_progress` (the order or bill is paid); closed there → the
    attempt is failed and the caller launches a new trade."""
    reconcile(attempt, now)
    if gone.state != ch.FAILED:
        name = CHANNEL_NAMES.get(attempt.channel, attempt.channel)
        raise errors.conflict("payment_in_progress", f"this was just paid with {name}") from gone


def unrecorded(attempt: PaymentAttempt) -> errors.DomainError:
    """409 `payment_in_progress` for a new trade the channel refused: an id we never recorded
    (a launch whose transaction failed after the channel opened it). Logged: it needs a look."""
    logger.error("channel refused a new trade", extra={"attempt_id": attempt.attempt_id, "channel": attempt.channel})
    name = CHANNEL_NAMES.get(attempt.channel, attempt.channel)
    return errors.conflict("payment_in_progress", f"{name} refused this payment; retry in a moment")


def start_channel_payment(
    channel: str, *, order_id: str, user_id: str, amount_fen: int, expires_at: str | None = None
) -> dict[str, Any]:
    """Checkout's entry: the launch data for an order awaiting a channel payment until `expires_at`."""
    if channel not in ch.CHANNELS:
        raise ValueError(f"unknown channel {channel}")
    if channel in (ch.CARD, ch.WALLET):
        return {"channel": channel, "amount_fen": amount_fen, "pay_now": f"/v1/orders/{order_id}/payments"}
    now = clock.now()
    seen = attempts_for(order_id)
    attempt = open_trade(seen, channel, amount_fen)
    if attempt is None:
        attempt = new_attempt(order_id, user_id, channel, amount_fen, CHECKOUT, now, seen=seen)
        tx = Tx()
        save_attempt(tx, attempt)
        tx.commit()
    try:
        data = start_trade(attempt, expires_at)
    except ch.TradeNotOpen as gone:  # a fresh order's trade is never paid or closed at the channel
        raise unrecorded(attempt) from gone
    return {**data, "amount_fen": amount_fen}
