"""Merchant webhooks (SPEC.md "Merchant webhooks"): the outbox, endpoints, delivery, the log.

Any service reports a change with one call beside it, in its transaction:
`webhooks.emit(tx, merchant_id, webhooks.types.ORDER_PAID, order, now)`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import lazy
from ...models.webhooks import WebhookEndpoint as WebhookEndpoint
from ...models.webhooks import WebhookEvent as WebhookEvent
from . import types
from .outbox import emit

if TYPE_CHECKING:
    from . import delivery, endpoints, log, order_events
else:
    __getattr__ = lazy.modules(__name__, ["delivery", "endpoints", "log", "order_events"])

__all__ = ["delivery", "emit", "endpoints", "log", "order_events", "types"]
