"""Every scheduled job, registered by name in `chalicelib.jobs`."""

from __future__ import annotations

from . import reconcile, redemption  # noqa: F401  (reconcile_ledger, enqueue_pending_redemptions)
