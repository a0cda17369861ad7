"""Every scheduled job, registered by name in `chalicelib.jobs`."""

from __future__ import annotations

from . import fulfilment  # noqa: F401,E402  auto_confirm_receipts, complete_orders
