"""An event's object as the merchant API shows it, rendered from the event's snapshot."""

from __future__ import annotations

from typing import Any


def render(kind: str, snapshot: dict[str, Any]) -> dict[str, Any]:
    if "plain" in snapshot:
        plain: dict[str, Any] = snapshot["plain"]
        return plain
    item = snapshot["item"]
    if kind == "order":
        from ..models.orders import Order
        from .orders import order_view

        return order_view(Order.from_raw_data(item), for_buyer=False).model_dump(mode="json")
    if kind == "return_request":
        from ..models.aftersale import ReturnRequest
        from .fulfilment import return_view

        return return_view(ReturnRequest.from_raw_data(item)).model_dump(mode="json")
    if kind == "dispute":
        from ..models.aftersale import Dispute
        from .aftersale import dispute_view

        return dispute_view(Dispute.from_raw_data(item)).model_dump(mode="json")
    if kind == "message":
        from ..models.messages import OrderMessage
        from .messages import message_view

        return message_view(OrderMessage.from_raw_data(item)).model_dump(mode="json")
    if kind == "payout":
        from ..models.payouts import Payout
        from .payouts import payout_view

        return payout_view(Payout.from_raw_data(item)).model_dump(mode="json")
    raise ValueError(f"no view for {kind!r}")
