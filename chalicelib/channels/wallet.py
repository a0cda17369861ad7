"""The wallet: pays from the user's wallet cash balance through the ledger, no external call.

Its "charge" is the ledger legs below, posted inside the same transaction as the payment's
effect; the balance check is the ledger's own condition (cash never goes below zero).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..ledger import CASH, PLATFORM, Leg, clearing, user_account
from . import base as ch

CLEARING = clearing(ch.WALLET)


def debit_legs(user_id: str, amount_fen: int) -> list[Leg]:
    """Cash leaves the user's wallet into wallet clearing."""
    return [Leg(user_account(user_id), CASH, -amount_fen), Leg(PLATFORM, CLEARING, amount_fen)]


def credit_legs(user_id: str, amount_fen: int) -> list[Leg]:
    """A refund to the wallet: the reverse of `debit_legs`."""
    return [Leg(user_account(user_id), CASH, amount_fen), Leg(PLATFORM, CLEARING, -amount_fen)]


class WalletChannel:
    name = ch.WALLET

    def charge(self, ref: ch.PaymentRef) -> ch.ChargeResult:
        # Approved here; the money moves by `debit_legs` in the settling transaction.
        return ch.ChargeResult(
            ch.SUCCEEDED, f"wallet_{ref.attempt_id}", amount_fen=ref.amount_fen, currency=ref.currency
        )

    def query(self, ref: ch.PaymentRef) -> ch.ChargeResult:
        # A wallet attempt is created and settled in one transaction: none is ever pending.
        return ch.ChargeResult(ch.FAILED, failure_code="not_found")

    def refund(self, ref: ch.PaymentRef, *, refund_id: str, amount_fen: int, channel_txn_id: str) -> ch.RefundResult:
        return ch.RefundResult(ch.SUCCEEDED, f"wallet_{refund_id}")

    def close(self, ref: ch.PaymentRef) -> str:
        return ch.SUCCEEDED  # we take the money ourselves: no trade stays open at the channel

    def start_payment(self, ref: ch.PaymentRef) -> dict[str, Any]:
        return {"channel": ch.WALLET, "out_trade_no": ref.attempt_id, "pay_now": f"/v1/orders/{ref.order_id}/payments"}

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> ch.ChannelEvent:
        raise ch.NotificationRejected("no_notifications")

    def reply(self, accepted: bool, reason: str = "") -> ch.NotifyReply:
        return ch.NotifyReply(404, {"code": "not_found"})
