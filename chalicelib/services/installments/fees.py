"""The installment fee's postings, one place for each (SPEC 'Installments': fee, refunds).

- `forgive_consumer_fee`: fee the consumer no longer owes (a waiver, a return, a cancel);
- `charge_merchant_fee`: a 免息 plan's fee out of the merchant's payable (negative: given back).
"""

from __future__ import annotations

from datetime import datetime

from ... import errors, ledger
from ...db import Tx
from ...models.orders import Order


def forgive_consumer_fee(
    tx: Tx, order: Order, event_id: str, fee_fen: int, now: datetime, insufficient: errors.DomainError | None = None
) -> None:
    """`fee_fen` of the consumer's fee is no longer owed (`installment_fee_waived`); `insufficient`:
    the error when the book would go below zero (the fee owed changed meanwhile)."""
    ledger.post(
        tx,
        event_id=event_id,
        kind="installment_fee_waived",
        at=now,
        legs=ledger.installment_fee_charged(order.user_id, -fee_fen),
        ref=order.order_id,
        insufficient=insufficient,
    )


def charge_merchant_fee(tx: Tx, order: Order, event_id: str, fee_fen: int, now: datetime) -> None:
    """A 免息 plan's fee leaves the merchant's payable into `merchant_installment_fees`."""
    ledger.post(
        tx,
        event_id=event_id,
        kind="merchant_installment_fee",
        at=now,
        legs=ledger.merchant_installment_fee(order.merchant_id, fee_fen),
        ref=order.order_id,
    )
