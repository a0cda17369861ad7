"""The one small interface every payment channel adapter implements.

A channel moves money (`charge`, `refund`), answers what happened to a payment (`query`),
gives the app what it needs to pay in the channel's own app (`start_payment`, bounded by
the order's payment deadline) and closes a trade whose order lapsed (`close`), and turns
a signed asynchronous notification into a verified `ChannelEvent`
(`parse_notification`) or refuses it (`NotificationRejected`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

SUCCEEDED = "succeeded"
FAILED = "failed"
PENDING = "pending"
Outcome = str  # SUCCEEDED | FAILED | PENDING

CARD = "card"
ALIPAY = "alipay"
WECHAT_PAY = "wechat_pay"
WALLET = "wallet"
CHANNELS = (CARD, ALIPAY, WECHAT_PAY, WALLET)


@dataclass(frozen=True)
class PaymentRef:
    """What a channel needs to know about one of our payment attempts."""

    attempt_id: str  # our out_trade_no / merchant reference
    order_id: str
    user_id: str
    amount_fen: int
    currency: str
    created_at: datetime
    instrument_token: str | None = None  # the card gateway token (card only)
    description: str = "PayLater order"
    # The order's payment deadline: the channel refuses payment after it (time_expire).
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ChargeResult:
    """A channel's answer about a payment: `pending` means not (yet) known."""

    status: Outcome
    channel_txn_id: str | None = None
    failure_code: str | None = None
    amount_fen: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class RefundResult:
    status: Outcome
    channel_refund_id: str | None = None
    failure_code: str | None = None


@dataclass(frozen=True)
class ChannelEvent:
    """A verified statement from a channel about one of our attempts.

    `event_id` is the channel's own id for the notification (Alipay `notify_id`, WeChat
    Pay `id`, the card gateway's event id), or ours for synchronous results; it is what
    de-duplication keys on. The amount is the channel's claim, checked against ours.
    """

    channel: str
    event_id: str
    attempt_id: str
    channel_txn_id: str | None
    amount_fen: int | None
    currency: str | None
    status: Outcome
    failure_code: str | None = None

    @classmethod
    def answered(cls, channel: str, event_id: str, attempt_id: str, answer: ChargeResult) -> ChannelEvent:
        """Our own event for a channel's synchronous answer (a charge's or a query's)."""
        return cls(
            channel,
            event_id,
            attempt_id,
            answer.channel_txn_id,
            answer.amount_fen,
            answer.currency,
            answer.status,
            answer.failure_code,
        )


# Refusals that mean "not from the channel, or not now": answered 401 where HTTP status matters.
SIGNATURE_REASONS = frozenset({"bad_signature", "stale", "unknown_serial"})


class NotificationRejected(Exception):
    """A notification we will not act on: forged, stale, malformed or not ours."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class NotifyReply:
    """The HTTP answer a channel expects (each has its own convention)."""

    status: int
    body: str | dict[str, Any]
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class Channel(Protocol):
    name: str

    def charge(self, ref: PaymentRef) -> ChargeResult:
        """Take the money now (card, wallet). Same attempt id twice = one charge."""
        ...

    def query(self, ref: PaymentRef) -> ChargeResult:
        """Ask the channel what became of an attempt."""
        ...

    def refund(self, ref: PaymentRef, *, refund_id: str, amount_fen: int, channel_txn_id: str) -> RefundResult:
        """Give (part of) a settled payment back. Same refund id twice = one refund."""
        ...

    def start_payment(self, ref: PaymentRef) -> dict[str, Any]:
        """What the app needs to pay in the channel's own app."""
        ...

    def close(self, ref: PaymentRef) -> Outcome:
        """Close an unpaid trade so it can no longer be paid (its order lapsed).

        SUCCEEDED: closed (or never opened); FAILED: it cannot be closed, it was paid (its
        notification or a query will settle it); PENDING: no answer.
        """
        ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> ChannelEvent:
        """Verify and parse an asynchronous notification, or raise NotificationRejected."""
        ...

    def reply(self, accepted: bool, reason: str = "") -> NotifyReply:
        """The answer the channel expects for an accepted / refused notification."""
        ...


class TradeNotOpen(Exception):
    """The channel will not launch a trade again: paid there already (`state` SUCCEEDED,
    WeChat Pay `ORDERPAID`) or closed there (FAILED, `ORDER_CLOSED`). Its query settles it."""

    def __init__(self, state: Outcome) -> None:
        super().__init__(state)
        self.state = state


class UnsupportedOperation(Exception):
    """The channel has no such operation (e.g. a merchant-initiated Alipay charge)."""
