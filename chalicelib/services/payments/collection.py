"""Collection of 先用后付 orders (guide 第五步: pay in the window, or the bound card is charged).

A received 先用后付 order owes `amount_due_fen` until `due_at`. The user may pay it early
(`payments.pay_now`); at the close the `close_payment_windows` schedule charges the
default card; a decline makes the order `overdue`, freezes 先用后付 for the user and the
charge is retried daily, up to `rules.collection_max_retries` retries. Every way the
money arrives goes through `payments.settle`, which applies the repayment rules
(`payments/repayment.py`: `mark_paid` / `on_declined`) inside the transaction that
records the outcome.

Timers (see `timers.py`), swept by `close_payment_windows` - never a scan:
- `payment_due` at `due_at` (set by receipt; set again at "now" when a rejected return
  finds the window already closed): charge the next collection round.
- `collection_retry` with data `{"round": n}`, `rules.collection_retry_seconds` after a
  declined round n-1: charge round n. Retries run in the same job, after the window
  closes of that run, with what is left of the run's item and time budget.
- `bill_payment`: a monthly bill's payment left hanging (payments/bill_payments.py), after
  the retries, with what is left of the budget.
- A charge is one transaction that takes the timer, saves the attempt `pending`
  (attempt n of the order has one id: the gateway's idempotency key), bumps the order's
  `collection_attempts` on condition of the status and amount it was read with, and
  leaves a check timer of the same kind and round `rules.collection_query_seconds`
  later. Only then is the gateway called. A timeout (or a crash) leaves the attempt
  `pending`: the check timer asks the gateway (`payments.reconcile`), as the card
  notification may do first; while any card attempt of the order is pending nothing
  charges it again. Two overlapping runs cannot both take the timer or both create
  attempt n, so a round is charged once.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from ... import channels, errors, timers
from ...channels import base as ch
from ...clock import iso, parse_iso
from ...config import settings
from ...db import Tx
from ...models import orders as o
from ...models import payments as pm
from ...models.orders import Order
from ...models.payments import PaymentAttempt
from ...models.timers import Timer
from ...money import price
from ...observability import count, logger
from .. import accounts, installments, notifications
from . import bill_payments
from .attempts import COLLECTION, attempts_for, get_attempt, new_attempt, payment_ref, save_attempt
from .intake import reconcile
from .payable import NEXT_PART, load_order, order_moved, part_of
from .repayment import collectable, local_time
from .settlement import settle
from .switch import close_open_trades

PAYMENT_DUE = timers.PAYMENT_DUE
COLLECTION_RETRY = timers.COLLECTION_RETRY
DUE_REMINDER = timers.DUE_REMINDER


# --- closing windows ---------------------------------------------------------------------


def _drop(timer: Timer) -> None:
    tx = Tx()
    timers.take(tx, timer)
    tx.commit()


def _rearm(timer: Timer, now: datetime) -> None:
    """Look again later (a charge still in flight at the gateway)."""
    tx = Tx()
    timers.take(tx, timer)
    timers.schedule(
        tx, timer.kind, timer.ref, now + timedelta(seconds=settings().rules.collection_query_seconds), timer.data
    )
    tx.commit()


def _collect(timer: Timer, now: datetime, tally: Counter[str]) -> bool:
    """One due collection timer: settle what is in flight, else charge the next round."""
    rules = settings().rules
    order = load_order(timer.ref)
    if not collectable(order):
        _drop(timer)  # paid, completed, returned, or a return request pauses it
        tally["not_owed"] += 1
        return False
    assert order is not None
    # Never charge while a card charge may be in flight: ask the gateway first.
    for attempt in attempts_for(order.order_id):
        if attempt.status == pm.PENDING and attempt.channel == ch.CARD:
            settled = reconcile(get_attempt(attempt.attempt_id) or attempt, now)
            tally[f"queried_{settled.result}"] += 1
    order = load_order(timer.ref)
    if not collectable(order):
        _drop(timer)
        tally["not_owed"] += 1
        return False
    assert order is not None
    if installments.state.timer_is_stale(order, timer.data):
        _drop(timer)  # a timer of an installment part paid meanwhile: never charge a paid part
        tally["round_done"] += 1
        return False
    attempts = attempts_for(order.order_id)
    if any(a.status == pm.PENDING and a.channel == ch.CARD for a in attempts):
        _rearm(timer, now)
        tally["pending"] += 1
        return False
    try:  # a pay-now trade open at Alipay / WeChat Pay is closed before the card is charged
        close_open_trades(attempts, None, now)
    except errors.DomainError as err:  # paid there (settled now) or no answer: look again later
        if err.code != "payment_in_progress":
            raise
        _rearm(timer, now)
        tally["pending"] += 1
        return False
    done = int(order.collection_attempts or 0)
    round_no = int((timer.data or {}).get("round", done + 1))
    if done >= round_no or done > rules.collection_max_retries:
        _drop(timer)  # this round was charged (and settled), or the retries are spent
        tally["round_done"] += 1
        return False
    return _charge(timer, order, round_no, now, tally, attempts)


def _charge(
    timer: Timer, order: Order, round_no: int, now: datetime, tally: Counter[str], seen: list[PaymentAttempt]
) -> bool:
    rules = settings().rules
    card = accounts.default_card(accounts.get(order.user_id))
    amount = int(order.amount_due_fen)
    attempt = new_attempt(
        order.order_id,
        order.user_id,
        ch.CARD,
        amount,
        COLLECTION,
        now,
        card_token=card.gateway_token if card else None,
        card_last4=card.last4 if card else None,
        collection_round=round_no,
        part=part_of(order, NEXT_PART),
        seen=seen,  # a pay-now card charge started since this read takes the same id: one of them charges
    )
    check_at = now + timedelta(seconds=rules.collection_query_seconds)
    done = int(order.collection_attempts or 0)
    # The due date too: an installment order's next part may owe the same amount.
    unchanged = (Order.status == order.status) & (Order.amount_due_fen == amount) & (Order.due_at == order.due_at)
    unchanged &= (
        (Order.collection_attempts == done) | Order.collection_attempts.does_not_exist()
        if done == 0
        else Order.collection_attempts == done
    )
    tx = Tx()
    timers.take(tx, timer)
    save_attempt(tx, attempt)
    timers.schedule(tx, timer.kind, order.order_id, check_at, {"round": round_no, **installments.state.part_tag(order)})
    tx.update(
        order,
        [Order.collection_attempts.set(round_no), Order.updated_at.set(iso(now))],
        condition=unchanged,
        on_fail=order_moved(),
    )
    tx.commit()  # recorded before the gateway is asked: a crash leaves a pending attempt to query
    count("CollectionCharges", round=str(min(round_no, 2)))
    if card is None:
        event = ch.ChannelEvent(
            ch.CARD, f"nocard:{attempt.attempt_id}", attempt.attempt_id, None, None, None, ch.FAILED, "no_bank_card"
        )
    else:
        answer = channels.get(ch.CARD).charge(payment_ref(attempt))
        if answer.status == ch.PENDING:
            logger.info("collection charge pending", extra={"attempt_id": attempt.attempt_id, "round": round_no})
            tally["pending"] += 1
            return True
        event = ch.ChannelEvent.answered(ch.CARD, f"charge:{attempt.attempt_id}", attempt.attempt_id, answer)
    outcome = settle(event, now)
    tally[
        "paid" if outcome.result == "succeeded" else "declined" if outcome.result == "failed" else outcome.result
    ] += 1
    tx = Tx()
    timers.cancel(tx, timer.kind, order.order_id, check_at)  # settled: nothing left to check
    tx.commit()
    return True


def close_payment_windows(now: datetime) -> dict[str, int]:
    """Charge the default card of 先用后付 orders whose window closed, then the daily retries
    of declined ones; overdue on decline. Bounded by the sweep budget; resumes next run."""
    import time

    rules = settings().rules
    started = time.monotonic()
    tally: Counter[str] = Counter()
    due = timers.sweep(PAYMENT_DUE, now, lambda t: _collect(t, now, tally))
    used = due["processed"] + due["skipped"] + due["failed"]
    seconds_left = rules.sweep_max_seconds - (time.monotonic() - started)
    if due["complete"] and used < rules.sweep_max_items and seconds_left > 0:
        retry = timers.sweep(
            COLLECTION_RETRY,
            now,
            lambda t: _collect(t, now, tally),
            max_items=rules.sweep_max_items - used,
            max_seconds=seconds_left,
        )
    else:
        retry = {"processed": 0, "skipped": 0, "failed": 0, "complete": 0}
    bill = _bill_payments(now, started, used + retry["processed"] + retry["skipped"] + retry["failed"], retry)
    result = {k: due[k] + retry[k] + bill[k] for k in ("processed", "skipped", "failed")}
    result["complete"] = min(due["complete"], retry["complete"], bill["complete"])
    result["retries_processed"] = retry["processed"]
    result["bill_payments_processed"] = bill["processed"]
    for key in ("paid", "declined", "pending", "not_owed", "round_done"):
        result[key] = tally[key]
    return result


def _bill_payments(now: datetime, started: float, used: int, before: dict[str, int]) -> dict[str, int]:
    """Bill payments left hanging (`bill_payments.py`), with what is left of the budget."""
    import time

    rules = settings().rules
    seconds_left = rules.sweep_max_seconds - (time.monotonic() - started)
    if not before["complete"] or used >= rules.sweep_max_items or seconds_left <= 0:
        return {"processed": 0, "skipped": 0, "failed": 0, "complete": 0}
    return bill_payments.settle_bill_payments(now, max_items=rules.sweep_max_items - used, max_seconds=seconds_left)


# --- reminders -----------------------------------------------------------------------------


def _remind(timer: Timer, now: datetime) -> bool:
    order = load_order(timer.ref)
    tx = Tx()
    timers.take(tx, timer)
    owes = collectable(order) and order is not None and order.status == o.RECEIVED and bool(order.due_at)
    if owes:
        assert order is not None and order.due_at
        amount = int(order.amount_due_fen)
        notifications.notify(
            tx,
            order.user_id,
            notifications.PAYMENT_DUE_SOON,
            "还款提醒",
            f"订单 {order.order_id} 的 {price(amount)} 将于 {local_time(parse_iso(order.due_at))} 到期，"
            "到期自动从默认银行卡扣款；也可现在还款。",
            order.order_id,
            f"order:{order.order_id}:due_reminder:{order.due_at}",
            now,
        )
    tx.commit()
    return owes


def send_due_reminders(now: datetime) -> dict[str, int]:
    """Tell users a 先用后付 window closes soon (`rules.due_reminder_lead_seconds` before), if
    the order still owes money. The overdue notice is written when a collection declines."""
    return timers.sweep(DUE_REMINDER, now, lambda t: _remind(t, now))
