"""Every scheduled job, by name, in one table: the cloud schedules in app.py,
`/v1/dev/jobs/{job}` and the local stack's scheduler all run them through here, with the
service clock's "now". This module imports the services; no service imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .observability import logger
from .services import (
    aftersale,
    erasure,
    expiry,
    fulfilment,
    orders,
    payments,
    payouts,
    reconcile,
    redemption,
    risk,
)

JobFn = Callable[[datetime], dict[str, Any]]

JOBS: dict[str, JobFn] = {
    "expire_checkouts": expiry.expire_checkouts,
    "auto_confirm_receipts": fulfilment.auto_confirm_receipts,
    "complete_orders": fulfilment.complete_orders,
    "close_payment_windows": payments.close_payment_windows,
    "send_due_reminders": payments.send_due_reminders,
    "refund_unapplied_payments": payments.refund_unapplied_payments,
    "process_refunds": payments.process_refunds,
    orders.obligations.JOB: orders.obligations.check_obligations,
    reconcile.JOB: reconcile.reconcile_ledger,
    "enqueue_pending_redemptions": redemption.enqueue_pending_redemptions,
    "run_payouts": payouts.run_payouts,
    "purge_closed_accounts": erasure.purge_closed_accounts,
    aftersale.sweep.JOB: aftersale.sweep.advance_aftersale,
    "expire_risk_reviews": risk.reviews.expire_reviews,
    "roll_up_risk_stats": risk.stats.roll_up_closed_days,
}


def deliver_webhooks(now: datetime) -> dict[str, Any]:
    """Deliver the webhook events whose timer is due (rendered as the merchant API shows them)."""
    from .api.webhook_objects import render
    from .services import webhooks

    return webhooks.delivery.deliver_due(now, render)


JOBS["deliver_webhooks"] = deliver_webhooks


def run(name: str, now: datetime) -> dict[str, Any]:
    result = JOBS[name](now)
    logger.info("job finished", extra={"job": name, **{k: v for k, v in result.items() if isinstance(v, int)}})
    return result


def names() -> list[str]:
    return sorted(JOBS)
