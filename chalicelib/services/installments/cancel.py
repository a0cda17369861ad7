"""A placed installment order cancelled before shipment: the plan ends and its fee is forgiven."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from pynamodb.expressions.update import Action

from ...db import Tx
from ...models.orders import Order
from . import arithmetic as ar
from . import fees
from .state import plan_of


def on_cancelled(tx: Tx, order: Order, now: datetime, *, confirmed: bool = True) -> list[Action]:
    """Mark every unpaid part refunded and, once the order was confirmed (the fee is charged
    at confirmation), forgive the consumer's fee; answers the order updates ([] for a single
    payment). An order cancelled before its confirmation (expired, declined) had no fee charged."""
    plan = plan_of(order)
    if plan is None:
        return []
    owed = sum(p.fee_fen for p in plan.schedule if p.unpaid) if plan.fee_payer == "consumer" and confirmed else 0
    fees.forgive_consumer_fee(tx, order, f"order:{order.order_id}:installment_fee_cancelled", owed, now)
    ended = replace(
        plan,
        schedule=tuple(
            replace(p, principal_fen=0, fee_fen=0, status=str(ar.PartStatus.REFUNDED)) if p.unpaid else p
            for p in plan.schedule
        ),
    )
    order.installment_plan = ended.to_json()
    return [Order.installment_plan.set(ended.to_json())]
