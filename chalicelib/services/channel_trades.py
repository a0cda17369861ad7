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

from pynamodb.exceptions import UpdateError

from .. import channels
from ..channels import base as ch
from ..clock import iso
from ..db import condition_failed
from ..models import payments as pm
from ..models.payments import PaymentAttempt
from ..observability import count, logger
from . import payments

CLOSED = "closed"
# Channels where the user pays in the channel's app: a trade stays open there until paid.
OPEN_TRADE_CHANNELS = (ch.ALIPAY, ch.WECHAT_PAY)


def close_open_trades(order_id: str, now: datetime) -> int:
    """Close the order's unpaid channel trades (after its cancellation committed); how many."""
    closed = 0
    for attempt in payments.attempts_for(order_id):
        if attempt.status != pm.PENDING or attempt.channel not in OPEN_TRADE_CHANNELS:
            continue
        outcome = channels.get(attempt.channel).close(payments.payment_ref(attempt))
        if outcome != ch.SUCCEEDED:
            # Paid (its notification refunds it) or no answer: `time_expire` still bounds it.
            logger.warning(
                "channel trade not closed",
                extra={"attempt_id": attempt.attempt_id, "order_id": order_id, "outcome": outcome},
            )
            count("ChannelTradeNotClosed", channel=attempt.channel)
            continue
        try:
            attempt.update(
                actions=[
                    PaymentAttempt.status.set(pm.FAILED),
                    PaymentAttempt.failure_code.set(CLOSED),
                    PaymentAttempt.updated_at.set(iso(now)),
                    PaymentAttempt.settled_at.set(iso(now)),
                ],
                condition=PaymentAttempt.status == pm.PENDING,
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            continue  # settled meanwhile by a notification
        closed += 1
    return closed
