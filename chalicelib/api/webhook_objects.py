"""An event's object as the merchant API shows it, rendered from the event's snapshot."""

from __future__ import annotations

from typing import Any

from ..services import webhooks


def render(kind: str, snapshot: dict[str, Any]) -> dict[str, Any]:
    if "plain" in snapshot:
        plain: dict[str, Any] = snapshot["plain"]
        return plain
    record = webhooks.log.record_of(kind, snapshot["item"])  # each kind loads only its own view
    if kind == "order":
        from ..services import orders
        from .orders import order_view

        assert isinstance(record, orders.Order)
        return order_view(record, for_buyer=False).model_dump(mode="json")
    if kind == "return_request":
        from ..services import aftersale
        from .fulfilment import return_view

        assert isinstance(record, aftersale.ReturnRequest)
        return return_view(record).model_dump(mode="json")
    if kind == "dispute":
        from ..services import aftersale
        from .aftersale import dispute_view

        assert isinstance(record, aftersale.Dispute)
        return dispute_view(record).model_dump(mode="json")
    if kind == "message":
        from ..services import messages
        from .messages import message_view

        assert isinstance(record, messages.OrderMessage)
        return message_view(record).model_dump(mode="json")
    if kind == "payout":
        from ..services import payouts
        from .payouts import payout_view

        assert isinstance(record, payouts.Payout)
        return payout_view(record).model_dump(mode="json")
    raise ValueError(f"no view for {kind!r}")
