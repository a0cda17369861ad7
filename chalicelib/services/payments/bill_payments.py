"""Paying a month's bill (账单) in one charge: `POST /v1/bnpl/bills/{month}/payments`.

The lines paid are the bill's unpaid parts that their order owes now (each order's current
part: the month's part of an order with an earlier part unpaid, or paused by a return, waits).
Their amounts are locked in the bill payment (`payments.bill_lines`): one attempt numbered
under the user's bill ref, created on condition it is new, so two requests that decided on
the same view charge once (409 `payment_in_progress` for the other) and a retry after success
finds the bill paid (409 `bill_already_paid`). The charge goes through the channel as pay now
does: card now, Alipay / WeChat Pay by their app and notification. Its money is applied to
each part once, or refunded for a part paid meanwhile (`bill_lines.resolve`).

A bill payment left hanging (a card charge the gateway has not answered, an Alipay / WeChat
trade never paid, a crash before every part is resolved) has a `bill_payment` timer, swept
by key in `close_payment_windows`: the channel is asked, an unpaid trade is closed after
`checkout_ttl_seconds`, the parts are resolved; the timer goes when nothing is left to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ... import channels, errors, timers
from ...channels import base as ch
from ...clock import parse_iso
from ...config import settings
from ...db import Tx
from ...idempotency import IdemScope
from ...models import payments as pm
from ...models.payments import PaymentAttempt
from ...models.timers import Timer
from ...observability import logger
from .. import accounts
from ..installments import bills
from . import bill_lines
from .attempts import ATTEMPT_ERRORS, BILL, attempts_for, get_attempt, new_attempt, payment_ref, save_attempt
from .bill_lines import Line
from .intake import reconcile
from .launch import LAUNCH_ERRORS, settle_refused, start_trade, unrecorded
from .repayment import collectable
from .settlement import Result, settle
from .switch import OPEN_TRADE_CHANNELS, close_open_trades, close_trade

PAY_BILL_ERRORS = (
    bills.BILL_ERRORS
    | ATTEMPT_ERRORS
    | errors.raises(
        not_found=["nothing_due"],
        conflict=["bill_already_paid", "bill_not_payable", "payment_in_progress"],
        payment_declined=["payment_declined"],
        unprocessable=["no_bank_card"],
    )
    | LAUNCH_ERRORS
)


@dataclass
class BillPaymentResult:
    attempt: PaymentAttempt
    outcomes: dict[str, str] = field(default_factory=dict)  # by `Line.key`
    launch: dict[str, Any] | None = None

    @property
    def lines(self) -> list[Line]:
        return bill_lines.lines_of(self.attempt)

    @property
    def month(self) -> str:
        return bill_lines.month_of(self.attempt)


def nothing_due(month: str) -> errors.DomainError:
    return errors.not_found("nothing_due", f"nothing falls due in {month}")


def payable_lines(found: bills.Bill) -> list[Line]:
    """The bill's unpaid parts that their order owes now (its current part, not paused)."""
    return [
        Line(line.order.order_id, line.row.part.seq, line.row.part.amount_fen, str(line.row.part.due_at))
        for line in found.lines
        if line.row.part.unpaid
        and collectable(line.order)
        and line.order.due_at == line.row.part.due_at
        and int(line.order.amount_due_fen) == line.row.part.amount_fen
    ]


def _lines_to_pay(user_id: str, month: str, now: datetime) -> list[Line]:
    found = bills.bill(user_id, month, now)
    if not found.lines:
        raise nothing_due(month)
    lines = payable_lines(found)
    if not lines:
        if found.unpaid_fen == 0:
            raise errors.conflict("bill_already_paid", f"the {month} bill is paid")
        raise errors.conflict(
            "bill_not_payable", "what is left of this bill waits for an earlier part or a return: pay that first"
        )
    return lines


def _result(attempt: PaymentAttempt, now: datetime, launch: dict[str, Any] | None = None) -> BillPaymentResult:
    return BillPaymentResult(attempt, bill_lines.resolve(attempt, now), launch)


def _stage_only(idem: IdemScope | None, result: BillPaymentResult) -> BillPaymentResult:
    if idem is not None and idem.staged is None:
        tx = Tx()
        idem.stage(tx, result)
        tx.commit()
    return result


def pay_bill(user_id: str, month: str, channel: str, now: datetime, idem: IdemScope | None = None) -> BillPaymentResult:
    """Pay every part of `month`'s bill the user owes now, in one charge through `channel`."""
    bills.month_bounds(month)  # 422 `invalid_month` before anything is read
    ref = bill_lines.bill_ref(user_id, month)
    seen = attempts_for(ref)
    for pending in (a for a in seen if a.status == pm.PENDING and a.channel == ch.CARD):
        settled = reconcile(get_attempt(pending.attempt_id) or pending, now)
        if settled.result == Result.IGNORED:  # still in flight at the gateway: answer it
            return _stage_only(idem, BillPaymentResult(settled.attempt or pending))
    lines = _lines_to_pay(user_id, month, now)
    amount = sum(line.amount_fen for line in lines)
    keep = next(
        (
            a
            for a in reversed(seen)
            if a.status == pm.PENDING and a.channel == channel and a.lines == bill_lines.lines_json(lines)
        ),
        None,
    )
    close_open_trades(seen, keep, now)  # a trade open for other lines is closed first
    if keep is not None:  # the same lines again at the same channel: the same out_trade_no
        try:
            return _stage_only(idem, BillPaymentResult(keep, launch=start_trade(keep)))
        except ch.TradeNotOpen as gone:
            settle_refused(keep, gone, now)  # paid there: 409; closed there: a new trade below
    card = accounts.default_card(accounts.get(user_id)) if channel == ch.CARD else None
    if channel == ch.CARD and card is None:
        raise errors.unprocessable("no_bank_card", "bind a bank card to pay by card")
    attempt = new_attempt(
        ref,
        user_id,
        channel,
        amount,
        BILL,
        now,
        card_token=card.gateway_token if card else None,
        card_last4=card.last4 if card else None,
        seen=seen,
    )
    attempt.lines = bill_lines.lines_json(lines)
    tx = Tx()
    save_attempt(tx, attempt)
    timers.schedule(tx, timers.BILL_PAYMENT, attempt.attempt_id, _check_at(now))
    if channel != ch.CARD:  # launched in the app: the attempt and the answer in one transaction
        try:
            result = BillPaymentResult(attempt, launch=start_trade(attempt))
        except ch.TradeNotOpen as gone:
            raise unrecorded(attempt) from gone
        if idem is not None:
            idem.stage(tx, result)
        tx.commit()
        return result
    if idem is not None:
        idem.guard(tx)  # a retry of a request that already answered replays it: never a second charge
    tx.commit()  # recorded before the card is charged: a crash leaves a pending attempt to query
    answer = channels.get(ch.CARD).charge(payment_ref(attempt))
    if answer.status == ch.PENDING:
        logger.info("bill card charge pending", extra={"attempt_id": attempt.attempt_id})
        return _stage_only(idem, BillPaymentResult(attempt))
    event = ch.ChannelEvent.answered(ch.CARD, f"charge:{attempt.attempt_id}", attempt.attempt_id, answer)
    settle(event, now)
    if answer.status == ch.FAILED:
        raise errors.PaymentDeclined("payment_declined", f"the card was declined ({answer.failure_code or 'declined'})")
    return _stage_only(idem, _result(get_attempt(attempt.attempt_id) or attempt, now))


# --- the timer ---------------------------------------------------------------------------


def _check_at(now: datetime) -> datetime:
    return now + timedelta(seconds=settings().rules.collection_query_seconds)


def _rearm(timer: Timer, now: datetime) -> None:
    tx = Tx()
    timers.take(tx, timer)
    timers.schedule(tx, timers.BILL_PAYMENT, timer.ref, _check_at(now))
    tx.commit()


def check(timer: Timer, now: datetime) -> bool:
    """One due `bill_payment` timer: settle what the channel says, close a trade left unpaid
    too long, resolve the parts; the timer goes once nothing is left to do."""
    attempt = get_attempt(timer.ref)
    if attempt is not None and attempt.status == pm.PENDING:
        attempt = reconcile(attempt, now).attempt or attempt
        attempt = get_attempt(attempt.attempt_id) or attempt
        waited = now - parse_iso(attempt.created_at)
        if attempt.status == pm.PENDING and attempt.channel in OPEN_TRADE_CHANNELS:
            if waited >= timedelta(seconds=settings().rules.checkout_ttl_seconds):
                close_trade(attempt, now)  # never paid in the app: closed (failed)
                attempt = get_attempt(attempt.attempt_id) or attempt
    if attempt is not None and attempt.status == pm.PENDING:
        _rearm(timer, now)
        return False
    if attempt is not None and attempt.status != pm.FAILED and not bill_lines.settled(bill_lines.resolve(attempt, now)):
        _rearm(timer, now)  # a refund the channel has not confirmed yet
        return False
    tx = Tx()
    timers.take(tx, timer)
    tx.commit()
    return True


def settle_bill_payments(now: datetime, **budget: Any) -> dict[str, int]:
    """Sweep the due `bill_payment` timers (by key, never a scan)."""
    return timers.sweep(timers.BILL_PAYMENT, now, lambda t: check(t, now), **budget)
