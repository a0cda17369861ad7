"""Payment channel adapters (card gateway, Alipay, WeChat Pay, wallet) behind one interface."""

from __future__ import annotations

from typing import Any


def start_payment(channel: str, *, order_id: str, user_id: str, amount_fen: int) -> dict[str, Any]:
    """What the app needs to open `channel` for an order awaiting payment.

    The collection issue's channel adapters own this (signed Alipay order string, WeChat
    Pay prepay parameters, ...); until they land it answers the sandbox's launch data.
    """
    return {"channel": channel, "out_trade_no": order_id, "amount_fen": amount_fen, "sandbox": True}
