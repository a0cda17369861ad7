"""Orders: their lifecycle, reads and cancellation, and what follows an order's status.

- `lifecycle`: `OrderStatus`, `OrderEvent`, the table `(status, event) -> status` and
  `transition`, the one way an order's status changes (docs/lifecycle.md renders the table);
- `orders`: read and list orders, cancel one (`release` gives back what it holds);
- `order_index`: a merchant's orders, sharded for very large merchants;
- `obligations`: the timers an order needs, derived from its state, and the daily check;
- `standing`: a user's 先用后付 standing (unpaid and overdue counts, the freeze).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# An order read imports `orders` (its reads) and nothing else: the modules a change of
# status writes with (lifecycle, obligations, order_index, standing and, through them, the
# ledger, timers and webhooks) load on first use (issue 29: cold start). The records it
# answers with are re-exported for the code outside (the HTTP edge imports no model).
from ...models.aftersale import Refund as Refund
from ...models.aftersale import cancel_refund_id as cancel_refund_id
from ...models.orders import AWAITING_CONFIRMATION as AWAITING_CONFIRMATION
from ...models.orders import MAX_CHECKOUT_LINES
from ...models.orders import RISK_REVIEW as RISK_REVIEW
from ...models.orders import Order as Order
from .orders import (
    CANCEL_ERRORS,
    NOT_FOUND_ERRORS,
    TRANSITION_ERRORS,
    Changed,
    Money,
    OrderPage,
    cancel,
    expiry_deadline,
    get_own,
    list_orders,
    money_of,
    order_not_found,
    release,
)

if TYPE_CHECKING:
    from ...timers import CHECKOUT_EXPIRY
    from . import lifecycle, obligations, order_index, standing
    from .lifecycle import OrderEvent, OrderStatus, history_entry, transition

_SUBMODULES = frozenset({"lifecycle", "obligations", "order_index", "standing"})
_FROM_LIFECYCLE = frozenset({"OrderEvent", "OrderStatus", "history_entry", "transition"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _FROM_LIFECYCLE:
        return getattr(importlib.import_module(f"{__name__}.lifecycle"), name)
    if name == "CHECKOUT_EXPIRY":
        from ...timers import CHECKOUT_EXPIRY

        return CHECKOUT_EXPIRY
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AWAITING_CONFIRMATION",
    "CANCEL_ERRORS",
    "CHECKOUT_EXPIRY",
    "MAX_CHECKOUT_LINES",
    "NOT_FOUND_ERRORS",
    "RISK_REVIEW",
    "TRANSITION_ERRORS",
    "Changed",
    "Money",
    "Order",
    "OrderEvent",
    "OrderPage",
    "OrderStatus",
    "Refund",
    "cancel",
    "cancel_refund_id",
    "expiry_deadline",
    "get_own",
    "history_entry",
    "lifecycle",
    "list_orders",
    "money_of",
    "obligations",
    "order_index",
    "order_not_found",
    "release",
    "standing",
    "transition",
]
