"""Payment channel adapters (card gateway, Alipay, WeChat Pay, wallet) behind one interface.

`get(name)` gives the adapter (see `base.Channel`). Adapters know nothing of our services:
checkout opens a channel payment through `services/payments` (`start_channel_payment`).
"""

from __future__ import annotations

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


__all__ = ["CHANNELS", "NOTIFY_PATHS", "Channel", "get"]
