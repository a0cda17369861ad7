"""PayLater API: routes, schedules and queue handlers. Each one parses, delegates, renders.

Routes are declared in `chalicelib/api/` (one router per part of the story, with their
schemas and error codes, which also feed the OpenAPI document) and mounted here from the
route table in `chalicelib/routes.py`: a cold start imports Chalice and the settings only;
each router, its schemas and services load on the first request that needs them, and the
schedules and queue handler load their job when they first run. The local stage alone
mounts the dev routes.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice, Rate, SQSEvent

from chalicelib import routes
from chalicelib.config import settings

app = Chalice(app_name="paylater")
_cfg = settings()


@app.middleware("all")
def bind_invocation(event: Any, get_response: Any) -> Any:
    """Request ids on every log line of an invocation (`observability.bind_invocation`)."""
    from chalicelib import observability

    return observability.bind_invocation(event, get_response)


routes.mount(app, include_local=_cfg.is_local, console_origin=_cfg.console_origin)


def _run(job: str) -> None:
    from chalicelib import schedules
    from chalicelib.clock import clock

    schedules.run(job, clock.now())


def _review_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.services import redemption

    return redemption.review_batch(event, context)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="expire_checkouts")
def expire_checkouts(event: object) -> None:
    _run("expire_checkouts")


@app.schedule(Rate(1, unit=Rate.HOURS), name="auto_confirm_receipts")
def auto_confirm_receipts(event: object) -> None:
    _run("auto_confirm_receipts")


@app.schedule(Rate(1, unit=Rate.HOURS), name="complete_orders")
def complete_orders(event: object) -> None:
    _run("complete_orders")


@app.schedule(Rate(5, unit=Rate.MINUTES), name="refund_unapplied_payments")
def refund_unapplied_payments(event: object) -> None:
    _run("refund_unapplied_payments")


@app.schedule(Rate(5, unit=Rate.MINUTES), name="process_refunds")
def process_refunds(event: object) -> None:
    _run("process_refunds")


@app.schedule(Rate(1, unit=Rate.DAYS), name="reconcile_ledger")
def reconcile_ledger(event: object) -> None:
    _run("reconcile_ledger")


@app.schedule(Rate(1, unit=Rate.DAYS), name="check_obligations")
def check_obligations(event: object) -> None:
    _run("check_obligations")


@app.schedule(Rate(1, unit=Rate.HOURS), name="run_payouts")
def run_payouts(event: object) -> None:
    # Hourly: the due keys fall at the daily China-time cut-off (stage setting), so the
    # first run after it pays; the others only ask about payouts whose answer is overdue.
    _run("run_payouts")


@app.schedule(Rate(1, unit=Rate.HOURS), name="advance_aftersale")
def advance_aftersale(event: object) -> None:
    _run("advance_aftersale")


@app.schedule(Rate(1, unit=Rate.MINUTES), name="expire_risk_reviews")
def expire_risk_reviews(event: object) -> None:
    _run("expire_risk_reviews")


@app.schedule(Rate(1, unit=Rate.HOURS), name="roll_up_risk_stats")
def roll_up_risk_stats(event: object) -> None:
    _run("roll_up_risk_stats")


@app.schedule(Rate(1, unit=Rate.DAYS), name="purge_closed_accounts")
def purge_closed_accounts(event: object) -> None:
    _run("purge_closed_accounts")


@app.schedule(Rate(5, unit=Rate.MINUTES), name="enqueue_pending_redemptions")
def enqueue_pending_redemptions(event: object) -> None:
    _run("enqueue_pending_redemptions")


@app.on_sqs_message(queue=_cfg.review_queue_name, batch_size=10, name="review_redemptions")
def review_redemptions(event: SQSEvent) -> dict[str, Any]:
    return _review_batch(event.to_dict(), event.context)


def _deliver_webhooks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib.api.webhook_objects import render
    from chalicelib.clock import clock
    from chalicelib.services.webhooks import delivery

    return delivery.handle_batch(event, render, clock.now())


# One event per invocation: up to 10 endpoints × the 10 s timeout fits the function's timeout.
@app.on_sqs_message(queue=_cfg.webhook_queue_name, batch_size=1, name="deliver_webhook_events")
def deliver_webhook_events(event: SQSEvent) -> dict[str, Any]:
    return _deliver_webhooks(event.to_dict(), event.context)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="deliver_webhooks")
def deliver_webhooks(event: object) -> None:
    _run("deliver_webhooks")


@app.schedule(Rate(5, unit=Rate.MINUTES), name="close_payment_windows")
def close_payment_windows(event: object) -> None:
    _run("close_payment_windows")


@app.schedule(Rate(1, unit=Rate.HOURS), name="send_due_reminders")
def send_due_reminders(event: object) -> None:
    _run("send_due_reminders")


if _cfg.is_local:
    from chalicelib.local.handlers import QUEUE_HANDLERS

    QUEUE_HANDLERS[_cfg.review_queue_name] = _review_batch
    QUEUE_HANDLERS[_cfg.webhook_queue_name] = _deliver_webhooks
