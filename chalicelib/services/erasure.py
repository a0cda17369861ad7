"""What account closure erases, and what the retention purge deletes (services/privacy.py
closes the account; `purge_closed_accounts` sweeps the timers it arms).

`scrub` erases the shipping addresses on the kept orders, the card tokens on their
payment attempts, the text of the consumer's messages and the copies of both in merchants'
webhook events; `purge`, once `rules.closed_account_retention_seconds` are over, deletes
the kept orders, payment attempts, returns, refunds, messages, disputes, webhook events,
risk records, redemptions, coupons, wallet entries and balances, and the user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from pynamodb.models import Model

from .. import ledger, timers
from ..db import Tx
from ..models.aftersale import Dispute, ReturnRequest
from ..models.coupons import Coupon
from ..models.ledger import Balance, Entry
from ..models.messages import CONSUMER, OrderMessage
from ..models.notifications import Notification
from ..models.orders import Order
from ..models.payments import PaymentAttempt
from ..models.redemptions import Redemption
from ..models.risk import RiskCounter, RiskDecision
from ..models.timers import Timer
from ..models.users import User
from ..models.webhooks import WebhookEvent
from . import risk
from .data_export import refunds_of

SCRUB, RETENTION = timers.CLOSURE_SCRUB, timers.ACCOUNT_RETENTION
ERASED_TEXT = "（用户已注销 account closed）"
ERASED_ADDRESS = {"name": "已注销", "phone": "***", "line1": "已注销", "city": "已注销"}


def orders_of(user_id: str) -> Iterable[Order]:
    return Order.by_user.query(user_id)


def scrub(user_id: str) -> int:
    """Erase the shipping addresses (names, phones) on the orders kept after closure, the
    card tokens on their payment attempts (the cards are gone; nothing is open to refund) and
    the text of the consumer's messages to merchants (free text may hold personal data)."""
    done = 0
    for order in orders_of(user_id):
        if order.address != ERASED_ADDRESS:
            order.update(actions=[Order.address.set(ERASED_ADDRESS)])
            done += 1
        for attempt in PaymentAttempt.by_order.query(order.order_id):
            if attempt.instrument_token:
                attempt.update(actions=[PaymentAttempt.instrument_token.remove()])
        for message in OrderMessage.query(order.order_id):
            if message.author == CONSUMER and message.text != ERASED_TEXT:
                message.update(actions=[OrderMessage.text.set(ERASED_TEXT)])
        for event in WebhookEvent.by_order.query(order.order_id):
            _scrub_event(event)
    for note in Notification.query(user_id):
        note.delete()
    return done


def _scrub_event(event: WebhookEvent) -> None:
    """Erase in the object a webhook event carries what closure erases in the original. The
    event's version is left alone: a delivery in flight still records its attempt."""
    snapshot = dict(event.snapshot or {})
    if "item" not in snapshot:
        return
    obj: Model
    if event.object_kind == "order":
        obj = Order.from_raw_data(snapshot["item"])
        obj.address = ERASED_ADDRESS
    elif event.object_kind == "message":
        obj = OrderMessage.from_raw_data(snapshot["item"])
        if obj.author == CONSUMER:
            obj.text = ERASED_TEXT
    else:
        return
    erased = {"item": obj.serialize()}
    if erased != snapshot:
        event.update(actions=[WebhookEvent.snapshot.set(erased)])


def purge(user_id: str) -> int:
    """Delete what closure kept, once the retention period is over."""
    account = ledger.user_account(user_id)
    doomed: list[Model] = []
    for order in orders_of(user_id):
        doomed += [order, *PaymentAttempt.by_order.query(order.order_id), *refunds_of(order)]
        doomed += list(OrderMessage.query(order.order_id))
        doomed += list(Dispute.by_order.query(order.order_id))
        doomed += list(WebhookEvent.by_order.query(order.order_id))
        doomed += list(RiskDecision.batch_get([risk.decide.decision_id(order.order_id)]))
    # the user's velocity counters (every day) and profile: keyed by the pseudonymous id
    doomed += [*RiskCounter.query(f"user#{user_id}"), *RiskCounter.query(f"profile#{user_id}")]
    doomed += list(ReturnRequest.by_user.query(user_id))
    doomed += list(Redemption.by_user.query(user_id))
    doomed += list(Coupon.query(user_id))
    doomed += list(Entry.query(account))
    doomed += list(Balance.query(account))
    for item in doomed:
        item.delete()
    User(user_id).delete()
    return len(doomed)


def purge_closed_accounts(now: datetime) -> dict[str, Any]:
    """Finish closures' address erasure, and delete closed accounts' kept data after retention."""

    def act(fn: Callable[[str], int]) -> Callable[[Timer], bool]:
        def run(timer: Timer) -> bool:
            fn(timer.ref)
            tx = Tx()
            timers.take(tx, timer)
            tx.commit()
            return True

        return run

    scrubbed = timers.sweep(SCRUB, now, act(scrub))
    purged = timers.sweep(RETENTION, now, act(purge))
    return {
        "scrubbed": scrubbed["processed"],
        "purged": purged["processed"],
        "failed": scrubbed["failed"] + purged["failed"],
        "complete": int(scrubbed["complete"] and purged["complete"]),
    }
