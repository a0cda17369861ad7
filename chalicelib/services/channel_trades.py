"""A lapsed order's channel trades: closed at the channel so they can no longer be paid.

An order awaiting an Alipay / WeChat Pay payment has a trade open at the channel (its
out_trade_no is our attempt id), bounded by the order's payment deadline (`time_expire`,
passed when the trade opens). When the order lapses (`expire_checkouts`), each trade still
open is closed at the channel too, and its attempt marked `failed` (`closed`). A trade
the channel will not close because it was paid is left to its notification, which finds
the order cancelled and refunds the payment (`payments.settle`).
"""

from __future__ import annotations

from datetime import datetime

from ..channels import base as ch
from ..models import payments as pm
from . import payments

OPEN_TRADE_CHANNELS = payments.OPEN_TRADE_CHANNELS


def close_open_trades(order_id: str, now: datetime) -> int:
    """Close the order's unpaid channel trades (after its cancellation committed); how many."""
    closed = 0
    for attempt in payments.attempts_for(order_id):
        if attempt.status != pm.PENDING or attempt.channel not in payments.OPEN_TRADE_CHANNELS:
            continue
        # Not closed (paid: its notification refunds it; or no answer): `time_expire` bounds it.
        closed += int(payments.close_trade(attempt, now) == ch.SUCCEEDED)
    return closed
