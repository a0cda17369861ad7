"""Merchant webhooks (SPEC.md "Merchant webhooks"): the outbox, endpoints, delivery, the log.

Any service reports a change with one call beside it, in its transaction:
`webhooks.emit(tx, merchant_id, webhooks.types.ORDER_PAID, order, now)`.
"""

from __future__ import annotations

from . import types
from .outbox import emit

__all__ = ["emit", "types"]
