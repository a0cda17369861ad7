"""An event's object as the merchant API shows it, rendered from the event's snapshot."""

from __future__ import annotations

from typing import Any


def render(kind: str, snapshot: dict[str, Any]) -> dict[str, Any]:
    if "plain" in snapshot:
        plain: dict[str, Any] = snapshot["plain"]
        return plain
    from ..services import aftersale, messages, orders, payouts, webhooks
    from .aftersale import dispute_view
    from .fulfilment import return_view
    from .messages import message_view
    from .orders import order_view
    from .payouts import payout_view

    record = webhooks.log.record_of(kind, snapshot["item"])
    if isinstance(record, orders.Order):
        return order_view(record, for_buyer=False).model_dump(mode="json")
    if isinstance(record, aftersale.ReturnRequest):
        return return_view(record).model_dump(mode="json")
    if isinstance(record, aftersale.Dispute):
        return dispute_view(record).model_dump(mode="json")
    if isinstance(record, messages.OrderMessage):
        return message_view(record).model_dump(mode="json")
    if isinstance(record, payouts.Payout):
        return payout_view(record).model_dump(mode="json")
    raise ValueError(f"no view for {kind!r}")
