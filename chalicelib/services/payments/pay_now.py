"""Pay now (`POST /v1/orders/{order_id}/payments`): card charges the default card, wallet
debits the cash balance in one transaction, Alipay / WeChat Pay answer the launch data for
the channel's app (its notification settles it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ... import channels, errors
from ...channels import base as ch
from ...clock import iso
from ...db import Tx
from ...idempotency import IdemScope, KeyTaken
from ...models import orders as o
from ...models import payments as pm
from ...models.orders import Order
from ...models.payments import PaymentAttempt
from ...observability import count, logger
from .. import accounts
from .attempts import (
    ATTEMPT_ERRORS,
    PAY_NOW,
    attempts_for,
    get_attempt,
    new_attempt,
    open_trade,
    payment_ref,
    refuse_paid_part,
    save_attempt,
)
from .intake import reconcile
from .launch import LAUNCH_ERRORS, settle_refused, start_trade, unrecorded
from .payable import LOAD_ERRORS, NEXT_PART, ORDER_MOVED, USER_MOVED, Plan, load_order, owned_order, part_of, payable
from .settlement import Result, inbox, received, settle
from .switch import OPEN_TRADE_CHANNELS, close_open_trades

PAY_NOW_ERRORS = (
    LOAD_ERRORS
    | ATTEMPT_ERRORS
    | errors.raises(
        payment_declined=["payment_declined"],
        conflict=["illegal_transition", "state_changed", "insufficient_balance"],
        unprocessable=["no_bank_card"],
    )
    | LAUNCH_ERRORS
)


@dataclass
class PaymentResult:
    attempt: PaymentAttempt
    order_status: str
    launch: dict[str, Any] | None = field(default=None)


def _stage_only(idem: IdemScope | None, result: PaymentResult) -> PaymentResult:
    if idem is not None:
        tx = Tx()
        idem.stage(tx, result)
        tx.commit()
    return result


def pay_now(
    user_id: str,
    order_id: str,
    channel: str,
    now: datetime,
    idem: IdemScope | None = None,
    scope: str = NEXT_PART,
) -> PaymentResult:
    """Pay an order now through `channel`.

    Card: charges the default card now (a timed-out charge stays `pending` until the
    gateway's notification or a query settles it; it is never charged twice). Wallet:
    debits the cash balance in one transaction. Alipay / WeChat Pay: answers the launch
    data for the channel's app; the channel's notification settles it. A trade of the order
    still open at another channel is closed there first (`switch.close_open_trades`).
    An installment order pays its next part, or with `scope` "all" everything left (the fee
    of each part whose month has not begun waived).
    """
    order = owned_order(user_id, order_id)
    if payable(order) is None:
        raise errors.illegal_transition("order", order.status, "pay")
    read_part = part_of(order, scope)
    seen = attempts_for(order_id)
    settled_meanwhile = False
    for pending in (a for a in seen if a.status == pm.PENDING and a.channel == ch.CARD):
        settled = reconcile(get_attempt(pending.attempt_id) or pending, now)
        attempt = settled.attempt or pending
        if settled.result == Result.IGNORED:
            # Still in flight at the gateway: answer it rather than charge again.
            return _stage_only(idem, PaymentResult(attempt, order.status))
        if settled.result == Result.SUCCEEDED and attempt.outcome == pm.APPLIED:
            return _stage_only(idem, PaymentResult(attempt, o.PAID))
        settled_meanwhile = True
    if settled_meanwhile:  # e.g. a declined auto-debit made the order overdue: read it again
        order = owned_order(user_id, order_id)
        # The tap was for the part it read: settled meanwhile by another tap or the auto-debit,
        # it is paid, and this request is not one for the part after it.
        if read_part is not None and part_of(order, scope) != read_part:
            raise errors.conflict("payment_in_progress", "this part was just paid by another payment; reload")
    plan = payable(order, scope=scope, now=now)
    if plan is None:
        raise errors.illegal_transition("order", order.status, "pay")
    # An installment order: the attempt pays the part this request read (its id is that part's).
    part = part_of(order, scope)
    refuse_paid_part(seen, part[0] if part else None)
    # Another channel's trade still open (the user left Alipay for the card): closed first.
    keep = open_trade(seen, channel, plan.amount_fen, part) if channel in OPEN_TRADE_CHANNELS else None
    close_open_trades(seen, keep, now)
    pay = Pay(order, plan, part, now, idem, seen)
    if channel == ch.WALLET:
        return _pay_from_wallet(pay)
    if channel == ch.CARD:
        return _pay_by_card(pay)
    return _launch(pay, channel)


@dataclass(frozen=True)
class Pay:
    """One pay-now request as decided: the order as read, what it pays, the attempts seen."""

    order: Order
    plan: Plan
    part: tuple[int, str] | None
    now: datetime
    idem: IdemScope | None
    seen: list[PaymentAttempt]

    def attempt(self, channel: str, card_token: str | None = None, card_last4: str | None = None) -> PaymentAttempt:
        order = self.order
        return new_attempt(
            order.order_id,
            order.user_id,
            channel,
            self.plan.amount_fen,
            PAY_NOW,
            self.now,
            card_token=card_token,
            card_last4=card_last4,
            part=self.part,
            seen=self.seen,
        )

    def save(self, tx: Tx, attempt: PaymentAttempt) -> None:
        """The attempt saved once, and only while the order is as read: a single payment still
        in its status (another tap that paid it meanwhile is not charged again), an
        installment part still the one owed (a part paid meanwhile another way, neither)."""
        save_attempt(tx, attempt)
        order = self.order
        condition = Order.status == order.status
        if self.part is not None:
            condition &= (Order.amount_due_fen == int(order.amount_due_fen)) & (Order.due_at == order.due_at)
        tx.check(
            Order,
            order.order_id,
            condition=condition,
            on_fail=errors.conflict("payment_in_progress", "this order was paid meanwhile; reload"),
        )


def _pay_from_wallet(pay: Pay) -> PaymentResult:
    order, plan, now, idem = pay.order, pay.plan, pay.now, pay.idem
    attempt = pay.attempt(ch.WALLET)
    answer = channels.get(ch.WALLET).charge(payment_ref(attempt))
    tx = Tx()
    save_attempt(tx, attempt)
    event = ch.ChannelEvent(
        ch.WALLET,
        f"wallet:{attempt.attempt_id}",
        attempt.attempt_id,
        answer.channel_txn_id,
        plan.amount_fen,
        attempt.currency,
        ch.SUCCEEDED,
    )
    # Created and settled at once: the attempt is written as succeeded in this transaction.
    attempt.status, attempt.outcome, attempt.channel_txn_id = pm.SUCCEEDED, pm.APPLIED, answer.channel_txn_id
    attempt.settled_at = iso(now)
    inbox(tx, event, Result.SUCCEEDED, now)
    received(tx, attempt, order, now)
    result = PaymentResult(attempt, order.status)  # paid (received again after an installment part)
    if idem is not None:
        idem.stage(tx, result)
    try:
        tx.commit()
    except errors.DomainError as err:
        if err.code in (ORDER_MOVED, USER_MOVED):
            raise errors.state_changed("the order changed meanwhile; reload and retry") from err
        raise
    count("PaymentsSucceeded", channel=ch.WALLET)
    return result


def _pay_by_card(pay: Pay) -> PaymentResult:
    order, now, idem = pay.order, pay.now, pay.idem
    card = accounts.default_card(accounts.get(order.user_id))
    if card is None:
        raise errors.unprocessable("no_bank_card", "bind a bank card to pay by card")
    attempt = pay.attempt(ch.CARD, card_token=card.gateway_token, card_last4=card.last4)
    tx = Tx()
    pay.save(tx, attempt)
    if idem is not None:
        idem.guard(tx)  # a retry of a request that already answered replays it: never a second charge
    tx.commit()  # recorded before the gateway is asked: a crash leaves a pending attempt to query
    answer = channels.get(ch.CARD).charge(payment_ref(attempt))
    if answer.status == ch.PENDING:
        logger.info("card charge pending", extra={"attempt_id": attempt.attempt_id, "order_id": order.order_id})
        return _stage_only(idem, PaymentResult(attempt, order.status))
    event = ch.ChannelEvent.answered(ch.CARD, f"charge:{attempt.attempt_id}", attempt.attempt_id, answer)
    if answer.status == ch.FAILED:
        settle(event, now)
        raise errors.PaymentDeclined("payment_declined", f"the card was declined ({answer.failure_code or 'declined'})")
    try:
        outcome = settle(event, now, idem=idem, render=lambda a, status: PaymentResult(a, status))
    except KeyTaken:
        settle(event, now)  # the key answered another request first: the charge is recorded all the same
        raise
    status = outcome.order_status
    if status is None:  # the gateway's notification settled it first: answer what that did
        status = (load_order(order.order_id) or order).status
    result = PaymentResult(outcome.attempt or attempt, status)
    if idem is not None and idem.staged is None:
        _stage_only(idem, result)
    return result


def _launch(pay: Pay, channel: str) -> PaymentResult:
    """Answer the launch data of the order's trade at `channel`: the one still open for this
    amount launched again (the same out_trade_no), or a new attempt's. A trade the channel
    will not open again is settled from its query first: paid there → 409
    `payment_in_progress` (the order is paid); closed there → a new trade is launched."""
    order, idem = pay.order, pay.idem
    deadline = order.payment_expires_at if order.status == o.AWAITING_PAYMENT else None
    reopened = open_trade(pay.seen, channel, pay.plan.amount_fen, pay.part)
    tx = Tx()
    attempt = reopened
    if attempt is None:
        attempt = pay.attempt(channel)
        pay.save(tx, attempt)
    try:
        launch = start_trade(attempt, deadline)
    except ch.TradeNotOpen as gone:
        if reopened is None:
            raise unrecorded(attempt) from gone
        settle_refused(reopened, gone, pay.now)  # paid there: 409; closed there: a new trade
        attempt = pay.attempt(channel)  # numbered after the closed one (it is among those seen)
        pay.save(tx, attempt)
        launch = start_trade(attempt, deadline)
    result = PaymentResult(attempt, order.status, launch)
    if idem is not None:
        idem.stage(tx, result)
    tx.commit()
    return result
