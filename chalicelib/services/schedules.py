"""Every scheduled job, registered by name in `chalicelib.jobs`."""

from __future__ import annotations

from . import payments  # noqa: F401  refund_unapplied_payments
