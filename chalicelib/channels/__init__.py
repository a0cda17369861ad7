"""Payment channel adapters (card gateway, Alipay, WeChat Pay, wallet) behind one interface.

`get(name)` gives the adapter (see `base.Channel`); `start_payment` is what checkout calls
for an order awaiting a channel payment.
"""

from __future__ import annotations

from typing import Any

from .base import ALIPAY, CARD, CHANNELS, WALLET, WECHAT_PAY, Channel

# The notification paths use `wechatpay`; the payment method is `wechat_pay`.
NOTIFY_PATHS = {"alipay": ALIPAY, "wechatpay": WECHAT_PAY, "card": CARD}


def get(name: str) -> Channel:
    if name == CARD:
        from .card import CardChannel

        return CardChannel()
    if name == ALIPAY:
        from .alipay import AlipayChannel

        return AlipayChannel()
    if name == WECHAT_PAY:
        from .wechat_pay import WechatPayChannel

        return WechatPayChannel()
    if name == WALLET:
        from .wallet import WalletChannel

        return WalletChannel()
    raise ValueError(f"unknown channel {name}")


def start_payment(
    channel: str, *, order_id: str, user_id: str, amount_fen: int, expires_at: str | None = None
) -> dict[str, Any]:
    """What the app needs to open `channel` for an order awaiting payment.

    Opens (or reuses) the order's payment attempt for `channel`, whose id is the
    channel's out_trade_no, and answers the adapter's launch data: a signed Alipay order
    string, WeChat Pay App parameters, or for card and wallet the pay-now path. The channel
    refuses payment after `expires_at` (the order's payment deadline: `time_expire`).
    """
    from ..services import payments

    return payments.start_channel_payment(
        channel, order_id=order_id, user_id=user_id, amount_fen=amount_fen, expires_at=expires_at
    )


__all__ = ["CHANNELS", "NOTIFY_PATHS", "Channel", "get", "start_payment"]
