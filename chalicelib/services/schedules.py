"""Every scheduled job, registered by name in `chalicelib.jobs`."""

from __future__ import annotations

from . import (
    checkout,  # noqa: F401  (expire_checkouts)
    fulfilment,  # noqa: F401  auto_confirm_receipts, complete_orders
    payments,  # noqa: F401  refund_unapplied_payments
    reconcile,  # noqa: F401  (reconcile_ledger)
    redemption,  # noqa: F401  (enqueue_pending_redemptions)
)
