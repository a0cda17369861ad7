"""Orders: their lifecycle, reads and cancellation, and what follows an order's status.

- `lifecycle`: `OrderStatus`, `OrderEvent`, the table `(status, event) -> status` and
  `transition`, the one way an order's status changes (docs/lifecycle.md renders the table);
- `orders`: read and list orders, cancel one (`release` gives back what it holds);
- `order_index`: a merchant's orders, sharded for very large merchants;
- `obligations`: the timers an order needs, derived from its state, and the daily check;
- `standing`: a user's 先用后付 standing (unpaid and overdue counts, the freeze).
"""

from __future__ import annotations

from ...models.aftersale import Refund as Refund
from ...models.aftersale import cancel_refund_id as cancel_refund_id
from ...models.orders import AWAITING_CONFIRMATION as AWAITING_CONFIRMATION
from ...models.orders import MAX_CHECKOUT_LINES
from ...models.orders import RISK_REVIEW as RISK_REVIEW
from ...models.orders import Order as Order
from . import lifecycle, obligations, order_index, standing
from .lifecycle import OrderEvent, OrderStatus, history_entry, transition
from .orders import (
    CANCEL_ERRORS,
    CHECKOUT_EXPIRY,
    NOT_FOUND_ERRORS,
    TRANSITION_ERRORS,
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

__all__ = [
    "CANCEL_ERRORS",
    "CHECKOUT_EXPIRY",
    "MAX_CHECKOUT_LINES",
    "NOT_FOUND_ERRORS",
    "TRANSITION_ERRORS",
    "Money",
    "OrderEvent",
    "OrderPage",
    "OrderStatus",
    "cancel",
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
