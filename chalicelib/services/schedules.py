"""Every scheduled job, registered by name in `chalicelib.jobs`."""

from __future__ import annotations

from . import (
    checkout,  # noqa: F401  (expire_checkouts)
    collection,  # noqa: F401  close_payment_windows, send_due_reminders
    fulfilment,  # noqa: F401  auto_confirm_receipts, complete_orders
    obligations,  # noqa: F401  (check_obligations)
    payments,  # noqa: F401  refund_unapplied_payments
    payouts,  # noqa: F401  (run_payouts)
    privacy,  # noqa: F401  (purge_closed_accounts)
    reconcile,  # noqa: F401  (reconcile_ledger)
    redemption,  # noqa: F401  (enqueue_pending_redemptions)
)
from .aftersale import sweep  # noqa: F401  (advance_aftersale)
