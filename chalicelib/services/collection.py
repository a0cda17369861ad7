"""Collection of 先用后付 orders (guide 第五步: pay in the window, or the bound card is charged).

A received 先用后付 order owes `amount_due_fen` until `due_at`. The user may pay it early
(`payments.pay_now`); at the close the `close_payment_windows` schedule charges the
default card; a decline makes the order `overdue`, freezes 先用后付 for the user and the
charge is retried daily, up to `rules.collection_max_retries` retries. Every way the
money arrives goes through `payments.settle`, which calls `mark_paid` / `on_declined`
here inside the transaction that records the outcome.

Timers (see `timers.py`), swept by `close_payment_windows` - never a scan:
- `payment_due` at `due_at` (set by receipt; set again at "now" when a rejected return
  finds the window already closed): charge the next collection round.
- `collection_retry` with data `{"round": n}`, `rules.collection_retry_seconds` after a
  declined round n-1: charge round n. Retries run in the same job, after the window
  closes of that run, with what is left of the run's item and time budget.
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
from datetime import datetime, timedelta, timezone

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from .. import channels, errors, jobs, ledger, timers
from ..channels import base as ch
from ..clock import iso, parse_iso
from ..config import settings
from ..db import Tx
from ..ledger import PLATFORM, Leg
from ..models import orders as o
from ..models import payments as pm
from ..models.orders import Order
from ..models.payments import PaymentAttempt
from ..models.timers import Timer
from ..models.users import BNPL_ACTIVE, BNPL_FROZEN, User
from ..observability import count, logger
from . import accounts, notifications, orders, payments, rewards

PAYMENT_DUE = timers.PAYMENT_DUE
COLLECTION_RETRY = timers.COLLECTION_RETRY
DUE_REMINDER = timers.DUE_REMINDER
ORDER_COMPLETION = timers.ORDER_COMPLETION
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def collectable(order: Order | None) -> bool:
    """A 先用后付 order that still owes money and may be charged: in its window or overdue
    (a pending return pauses collection; a paid or returned order owes nothing)."""
    return (
        order is not None
        and order.payment_method == o.BNPL
        and order.status in (o.RECEIVED, o.OVERDUE)
        and int(order.amount_due_fen or 0) > 0
    )


# --- paying a 先用后付 order ------------------------------------------------------------------


def mark_paid(tx: Tx, order: Order, attempt: PaymentAttempt, now: datetime) -> None:
    """received/overdue -> paid, in the settling transaction `tx`.

    - the order: `paid_at`, `paid_channel`, `paid_on_time`, nothing left due or reserved;
      conditional on the status and the amount due it was read with;
    - the credit it held is given back (event `order:<id>:credit_repaid`, see `ledger.py`);
    - on time = never overdue, and either paid by `due_at` or by the auto-debit while the
      order is still in its window (the window's own payment: charged at the close, or as
      soon as a return that paused the window ends; a declined one makes it overdue),
      however late that charge settles. Anything else after `due_at` is late, even when a
      return kept the order out of `overdue`. On-time payments earn points and count toward
      the credit limit (`rewards.on_paid_on_time`, whose user-item change is merged into
      the one update of the user here);
    - the user: one unpaid 先用后付 order fewer; an overdue one also leaves the overdue
      count, and the freeze lifts when it was the last - conditional on the count read,
      so a concurrent decline elsewhere makes this transaction retry, never lose the freeze;
    - paid early: the window's timers go; paid after `due_at`: the completion timer is set
      again at `due_at` (already due; the same key, so whether or not it already fired the
      order completes once).
    """
    rules = settings().rules
    was = order.status
    amount = int(order.amount_due_fen or 0)
    reserved = int(order.credit_reserved_fen or 0)
    on_time = was == o.RECEIVED and (attempt.purpose == payments.COLLECTION or _by_due(order, now))
    orders.transition(
        tx,
        order,
        o.PAID,
        now,
        "system" if attempt.purpose == payments.COLLECTION else f"channel:{attempt.channel}",
        allowed_from=(o.RECEIVED, o.OVERDUE),
        actions=[
            Order.paid_at.set(iso(now)),
            Order.paid_channel.set(attempt.channel),
            Order.paid_on_time.set(on_time),
            Order.amount_due_fen.set(0),
            Order.credit_reserved_fen.set(0),
        ],
        condition=Order.amount_due_fen == amount,
        on_fail=errors.conflict(payments.ORDER_MOVED, "the order changed meanwhile"),
        verb="pay",
    )
    order.paid_at, order.paid_channel, order.paid_on_time = iso(now), attempt.channel, on_time

    user = accounts.get(order.user_id)
    ledger.post(
        tx,
        event_id=f"order:{order.order_id}:credit_repaid",
        kind="credit_repaid",
        at=now,
        legs=[
            Leg(ledger.user_account(order.user_id), ledger.CREDIT, -reserved),
            Leg(PLATFORM, "credit_extended", reserved),
        ],
        ref=order.order_id,
        # Giving credit back cannot run short; a failed condition means the balance moved.
        insufficient=errors.conflict(payments.USER_MOVED, "the credit balance changed meanwhile"),
    )
    reward = rewards.on_paid_on_time(tx, order, now, user=user, paid_fen=amount) if on_time else rewards.UserChange()

    actions: list[Action] = [User.unpaid_bnpl_count.add(-1)]
    condition: Condition | None = User.unpaid_bnpl_count > 0
    if was == o.OVERDUE:
        overdue = int(user.overdue_open_count or 0)
        actions.append(User.overdue_open_count.add(-1))
        condition &= User.overdue_open_count == overdue
        if overdue <= 1 and user.bnpl_status == BNPL_FROZEN:
            actions.append(User.bnpl_status.set(BNPL_ACTIVE))
    actions, condition = reward.merged(actions, condition)
    tx.update(
        user,
        actions,
        condition=condition,
        on_fail=errors.conflict(payments.USER_MOVED, "the account changed meanwhile"),
    )

    if order.due_at:
        due = parse_iso(order.due_at)
        if now < due:
            timers.cancel(tx, PAYMENT_DUE, order.order_id, due)
            timers.cancel(tx, DUE_REMINDER, order.order_id, due - timedelta(seconds=rules.due_reminder_lead_seconds))
        else:
            timers.schedule(tx, ORDER_COMPLETION, order.order_id, due)
    count("BnplOrdersPaid", on_time=str(on_time).lower(), channel=attempt.channel)


def _by_due(order: Order, now: datetime) -> bool:
    return not order.due_at or now <= parse_iso(order.due_at)


def on_declined(tx: Tx, order: Order, attempt: PaymentAttempt, code: str, now: datetime) -> tuple[str, str, str] | None:
    """A collection charge was declined (in the transaction recording it): the order is
    overdue, 先用后付 frozen for the user, and the next round is set a retry period later
    while retries remain. Answers the notification to write (None: the order no longer
    owes money, e.g. it was paid another way meanwhile or a return paused it)."""
    if not collectable(order):
        return None
    rules = settings().rules
    round_no = int(attempt.collection_round or 1)
    retries_left = rules.collection_max_retries - (round_no - 1)
    amount = int(order.amount_due_fen)
    if order.status == o.RECEIVED:
        orders.transition(
            tx,
            order,
            o.OVERDUE,
            now,
            "system",
            allowed_from=(o.RECEIVED,),
            condition=Order.amount_due_fen == amount,
            on_fail=errors.conflict(payments.ORDER_MOVED, "the order changed meanwhile"),
            note=f"collection declined ({code})",
            verb="mark overdue",
        )
        tx.update(
            User(order.user_id),
            [User.overdue_open_count.add(1), User.bnpl_status.set(BNPL_FROZEN)],
            condition=User.user_id.exists(),
        )
        count("OrdersOverdue")
    else:
        # Already overdue: the retry below stands only while it still is.
        tx.update(
            order,
            [Order.updated_at.set(iso(now))],
            condition=(Order.status == o.OVERDUE) & (Order.amount_due_fen == amount),
            on_fail=errors.conflict(payments.ORDER_MOVED, "the order changed meanwhile"),
        )
    if retries_left > 0:
        timers.schedule(
            tx,
            COLLECTION_RETRY,
            order.order_id,
            now + timedelta(seconds=rules.collection_retry_seconds),
            {"round": round_no + 1},
        )
        then = f"我们将于 {_local(now + timedelta(seconds=rules.collection_retry_seconds))} 再次扣款，也可现在还款。"
    else:
        then = "自动扣款已停止，请尽快还款。"
    logger.info(
        "collection declined",
        extra={"order_id": order.order_id, "round": round_no, "code": code, "retries_left": max(retries_left, 0)},
    )
    return (
        notifications.PAYMENT_OVERDUE,
        "扣款失败，订单已逾期",
        f"订单 {order.order_id} 的 {payments.yuan(amount)} 自动扣款未成功（{code}），订单已逾期，"
        f"先用后付已暂停，还清后恢复。{then}",
    )


def _local(at: datetime) -> str:
    return at.astimezone(BEIJING).strftime("%m月%d日 %H:%M")


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
    order = payments.load_order(timer.ref)
    if not collectable(order):
        _drop(timer)  # paid, completed, returned, or a return request pauses it
        tally["not_owed"] += 1
        return False
    assert order is not None
    # Never charge while a card charge may be in flight: ask the gateway first.
    for attempt in payments.attempts_for(order.order_id):
        if attempt.status == pm.PENDING and attempt.channel == ch.CARD:
            settled = payments.reconcile(payments.get_attempt(attempt.attempt_id) or attempt, now)
            tally[f"queried_{settled.result}"] += 1
    order = payments.load_order(timer.ref)
    if not collectable(order):
        _drop(timer)
        tally["not_owed"] += 1
        return False
    assert order is not None
    attempts = payments.attempts_for(order.order_id)
    if any(a.status == pm.PENDING and a.channel == ch.CARD for a in attempts):
        _rearm(timer, now)
        tally["pending"] += 1
        return False
    done = int(order.collection_attempts or 0)
    round_no = int((timer.data or {}).get("round", done + 1))
    if done >= round_no or done > rules.collection_max_retries:
        _drop(timer)  # this round was charged (and settled), or the retries are spent
        tally["round_done"] += 1
        return False
    return _charge(timer, order, round_no, now, tally)


def _charge(timer: Timer, order: Order, round_no: int, now: datetime, tally: Counter[str]) -> bool:
    rules = settings().rules
    card = accounts.default_card(accounts.get(order.user_id))
    amount = int(order.amount_due_fen)
    attempt = payments.new_attempt(
        order.order_id,
        order.user_id,
        ch.CARD,
        amount,
        payments.COLLECTION,
        now,
        card_token=card.gateway_token if card else None,
        card_last4=card.last4 if card else None,
        collection_round=round_no,
    )
    check_at = now + timedelta(seconds=rules.collection_query_seconds)
    done = int(order.collection_attempts or 0)
    unchanged = (Order.status == order.status) & (Order.amount_due_fen == amount)
    unchanged &= (
        (Order.collection_attempts == done) | Order.collection_attempts.does_not_exist()
        if done == 0
        else Order.collection_attempts == done
    )
    tx = Tx()
    timers.take(tx, timer)
    payments.save_attempt(tx, attempt)
    timers.schedule(tx, timer.kind, order.order_id, check_at, {"round": round_no})
    tx.update(
        order,
        [Order.collection_attempts.set(round_no), Order.updated_at.set(iso(now))],
        condition=unchanged,
        on_fail=errors.conflict(payments.ORDER_MOVED, "the order changed meanwhile"),
    )
    tx.commit()  # recorded before the gateway is asked: a crash leaves a pending attempt to query
    count("CollectionCharges", round=str(min(round_no, 2)))
    if card is None:
        event = ch.ChannelEvent(
            ch.CARD, f"nocard:{attempt.attempt_id}", attempt.attempt_id, None, None, None, ch.FAILED, "no_bank_card"
        )
    else:
        answer = channels.get(ch.CARD).charge(payments.payment_ref(attempt))
        if answer.status == ch.PENDING:
            logger.info("collection charge pending", extra={"attempt_id": attempt.attempt_id, "round": round_no})
            tally["pending"] += 1
            return True
        event = ch.ChannelEvent(
            ch.CARD,
            f"charge:{attempt.attempt_id}",
            attempt.attempt_id,
            answer.channel_txn_id,
            answer.amount_fen,
            answer.currency,
            answer.status,
            answer.failure_code,
        )
    outcome = payments.settle(event, now)
    tally[
        "paid" if outcome.result == "succeeded" else "declined" if outcome.result == "failed" else outcome.result
    ] += 1
    tx = Tx()
    timers.cancel(tx, timer.kind, order.order_id, check_at)  # settled: nothing left to check
    tx.commit()
    return True


@jobs.job("close_payment_windows")
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
    result = {k: due[k] + retry[k] for k in ("processed", "skipped", "failed")}
    result["complete"] = min(due["complete"], retry["complete"])
    result["retries_processed"] = retry["processed"]
    for key in ("paid", "declined", "pending", "not_owed", "round_done"):
        result[key] = tally[key]
    return result


# --- reminders -----------------------------------------------------------------------------


def _remind(timer: Timer, now: datetime) -> bool:
    order = payments.load_order(timer.ref)
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
            f"订单 {order.order_id} 的 {payments.yuan(amount)} 将于 {_local(parse_iso(order.due_at))} 到期，"
            "到期自动从默认银行卡扣款；也可现在还款。",
            order.order_id,
            f"order:{order.order_id}:due_reminder:{order.due_at}",
            now,
        )
    tx.commit()
    return owes


@jobs.job("send_due_reminders")
def send_due_reminders(now: datetime) -> dict[str, int]:
    """Tell users a 先用后付 window closes soon (`rules.due_reminder_lead_seconds` before), if
    the order still owes money. The overdue notice is written when a collection declines."""
    return timers.sweep(DUE_REMINDER, now, lambda t: _remind(t, now))
