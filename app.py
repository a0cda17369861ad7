"""PayLater API: routes, schedules and queue handlers. Each one parses, delegates, renders.

Routes are declared in `chalicelib/api/` (one router per part of the story, with their
schemas and error codes, which also feed the OpenAPI document) and mounted here.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice, Rate, SQSEvent

from chalicelib import jobs, observability, web
from chalicelib.api import all_routers
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.services import redemption

app = Chalice(app_name="paylater")
_cfg = settings()
observability.install(app)

web.mount(app, [r for r in all_routers() if _cfg.is_local or not r.local_only])


@app.schedule(Rate(1, unit=Rate.MINUTES), name="expire_checkouts")
def expire_checkouts(event: object) -> None:
    jobs.run("expire_checkouts", clock.now())


@app.schedule(Rate(1, unit=Rate.HOURS), name="auto_confirm_receipts")
def auto_confirm_receipts(event: object) -> None:
    jobs.run("auto_confirm_receipts", clock.now())


@app.schedule(Rate(1, unit=Rate.HOURS), name="complete_orders")
def complete_orders(event: object) -> None:
    jobs.run("complete_orders", clock.now())


@app.schedule(Rate(5, unit=Rate.MINUTES), name="refund_unapplied_payments")
def refund_unapplied_payments(event: object) -> None:
    jobs.run("refund_unapplied_payments", clock.now())


@app.schedule(Rate(5, unit=Rate.MINUTES), name="process_refunds")
def process_refunds(event: object) -> None:
    jobs.run("process_refunds", clock.now())


@app.schedule(Rate(1, unit=Rate.DAYS), name="reconcile_ledger")
def reconcile_ledger(event: object) -> None:
    jobs.run("reconcile_ledger", clock.now())


@app.schedule(Rate(1, unit=Rate.HOURS), name="run_payouts")
def run_payouts(event: object) -> None:
    # Hourly: the due keys fall at the daily China-time cut-off (stage setting), so the
    # first run after it pays; the others only ask about payouts whose answer is overdue.
    jobs.run("run_payouts", clock.now())


@app.schedule(Rate(1, unit=Rate.DAYS), name="purge_closed_accounts")
def purge_closed_accounts(event: object) -> None:
    jobs.run("purge_closed_accounts", clock.now())


@app.schedule(Rate(5, unit=Rate.MINUTES), name="enqueue_pending_redemptions")
def enqueue_pending_redemptions(event: object) -> None:
    jobs.run("enqueue_pending_redemptions", clock.now())


@app.on_sqs_message(queue=_cfg.review_queue_name, batch_size=10, name="review_redemptions")
def review_redemptions(event: SQSEvent) -> dict[str, Any]:
    return redemption.review_batch(event.to_dict(), event.context)


@app.schedule(Rate(5, unit=Rate.MINUTES), name="close_payment_windows")
def close_payment_windows(event: object) -> None:
    jobs.run("close_payment_windows", clock.now())


@app.schedule(Rate(1, unit=Rate.HOURS), name="send_due_reminders")
def send_due_reminders(event: object) -> None:
    jobs.run("send_due_reminders", clock.now())


if _cfg.is_local:
    from chalicelib.api import dev

    dev.QUEUE_HANDLERS.update({_cfg.review_queue_name: redemption.review_batch})
