"""Checkout's launch of a channel payment: the app's data to open Alipay / WeChat Pay for an
order awaiting payment (or, for card and wallet, the pay-now path)."""

from __future__ import annotations

from typing import Any

from ... import channels
from ...channels import base as ch
from ...clock import clock
from ...db import Tx
from .attempts import CHECKOUT, attempts_for, new_attempt, open_trade, payment_ref, save_attempt


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
    data = channels.get(channel).start_payment(payment_ref(attempt, expires_at))
    return {**data, "amount_fen": amount_fen}
