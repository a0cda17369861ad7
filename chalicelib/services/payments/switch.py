"""Switching channel mid-payment: an order's trade still open at Alipay / WeChat Pay is
closed at its channel before another attempt is made, so the buyer is never charged twice.

The user may have paid that trade in the channel's app a moment ago (its notification not
yet here): the channel then refuses to close it (Alipay `ACQ.TRADE_STATUS_ERROR`, WeChat Pay
`ORDERPAID`), the payment is settled from the channel's query (order, attempt and ledger in
one transaction, `settlement.settle`) and the new attempt is refused, 409
`payment_in_progress`. A close the channel did not answer refuses it too: only a confirmed
close lets a new attempt go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pynamodb.exceptions import UpdateError

from ... import channels, errors
from ...channels import base as ch
from ...clock import iso
from ...db import condition_failed
from ...models import payments as pm
from ...models.payments import PaymentAttempt
from ...observability import count, logger
from .attempts import CHANNEL_NAMES, payment_ref
from .intake import reconcile

CLOSED = "closed"
# Channels where the user pays in the channel's app: a trade stays open there until paid.
OPEN_TRADE_CHANNELS = (ch.ALIPAY, ch.WECHAT_PAY)
SWITCH_ERRORS = errors.raises(conflict=["payment_in_progress"])


def close_trade(attempt: PaymentAttempt, now: datetime) -> str:
    """Close a pending attempt's trade at its channel; when the channel confirms, the attempt
    is `failed` (`closed`). Returns the channel's answer (`base.Channel.close`)."""
    outcome = channels.get(attempt.channel).close(payment_ref(attempt))
    if outcome != ch.SUCCEEDED:
        logger.warning(
            "channel trade not closed",
            extra={"attempt_id": attempt.attempt_id, "order_id": attempt.order_id, "outcome": outcome},
        )
        count("ChannelTradeNotClosed", channel=attempt.channel)
        return outcome
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
    return outcome


def close_open_trades(seen: Sequence[PaymentAttempt], keep: PaymentAttempt | None, now: datetime) -> None:
    """Before a new attempt of an order: close its other trades open at a channel (all but
    `keep`, the trade this attempt launches again), or refuse (409 `payment_in_progress`)."""
    for attempt in seen:
        if attempt.status != pm.PENDING or attempt.channel not in OPEN_TRADE_CHANNELS:
            continue
        if keep is not None and attempt.attempt_id == keep.attempt_id:
            continue
        outcome = close_trade(attempt, now)
        if outcome == ch.SUCCEEDED:
            continue
        name = CHANNEL_NAMES.get(attempt.channel, attempt.channel)
        if outcome == ch.FAILED:
            reconcile(attempt, now)  # paid there: settled now from the channel's own answer
            raise errors.conflict("payment_in_progress", f"this order was just paid with {name}")
        raise errors.conflict(
            "payment_in_progress", f"a payment of this order with {name} could not be closed yet; retry in a moment"
        )
