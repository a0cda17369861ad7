"""Payments: pay now, channel notifications, refunds, and the settlement they share.

One concept per module:
- `attempts`: the attempt store (`PaymentAttempt`), `payment_ref`, the legs money in and
  refunds post;
- `payable`: which orders are payable, from which status, for how much;
- `settlement`: `settle`, the one way money arriving for an order is applied (once);
- `repayment`: the 先用后付 rules settlement applies (`mark_paid`, `on_declined`);
- `refunds`: `refund` through the channel paid, and the refund sweepers;
- `intake`: channel notifications and queries;
- `pay_now`: the user paying an order now;
- `launch`: checkout's launch data for a channel payment;
- `switch`: closing a trade open at one channel before an attempt on another;
- `collection`: the window's close of 先用后付 orders: the auto-debit, its retries, reminders;
- `bill_lines`, `bill_payments`: paying a month's bill (账单) in one charge, its lines.

Ledger (see `ledger.py`): money arriving through channel C is `ledger.money_in(C, x)`
(platform `clearing_C` +x against `consumer_payments` -x) for card, Alipay and WeChat Pay,
and the wallet's `cash` -x against `clearing_wallet` +x.

Other modules import from this package, never from its modules' internals.
"""

from __future__ import annotations

from ...channels.base import NotifyReply
from ...models.payments import PaymentAttempt
from . import bill_payments
from .attempts import (
    BILL,
    CHANNEL_NAMES,
    COLLECTION,
    attempt_id_for,
    attempts_for,
    get_attempt,
    new_attempt,
    paid_attempt,
    payment_ref,
    save_attempt,
)
from .collection import close_payment_windows, send_due_reminders
from .intake import SIMULATE_ERRORS, handle_notification, reconcile, simulate_notification
from .launch import LAUNCH_ERRORS, start_channel_payment
from .pay_now import PAY_NOW_ERRORS, PaymentResult, pay_now
from .payable import ORDER_MOVED, USER_MOVED, load_order, order_moved, user_moved
from .refunds import RefundOutcome, process_refunds, refund, refund_unapplied_payments
from .settlement import Result, Settlement, settle
from .switch import OPEN_TRADE_CHANNELS, close_open_trades, close_trade

__all__ = [
    "BILL",
    "CHANNEL_NAMES",
    "COLLECTION",
    "LAUNCH_ERRORS",
    "OPEN_TRADE_CHANNELS",
    "ORDER_MOVED",
    "PAY_NOW_ERRORS",
    "SIMULATE_ERRORS",
    "USER_MOVED",
    "NotifyReply",
    "PaymentAttempt",
    "PaymentResult",
    "RefundOutcome",
    "Result",
    "Settlement",
    "attempt_id_for",
    "attempts_for",
    "bill_payments",
    "close_open_trades",
    "close_payment_windows",
    "close_trade",
    "get_attempt",
    "handle_notification",
    "load_order",
    "new_attempt",
    "order_moved",
    "paid_attempt",
    "pay_now",
    "payment_ref",
    "process_refunds",
    "reconcile",
    "refund",
    "refund_unapplied_payments",
    "save_attempt",
    "send_due_reminders",
    "settle",
    "simulate_notification",
    "start_channel_payment",
    "user_moved",
]
