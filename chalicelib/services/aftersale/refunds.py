"""What a return gives back, and the end of an after-sale pause.

`settle` releases 先用后付 credit (money not yet paid) or owes a refund through the channel
that paid, reverses the merchant's settlement of the returned goods, and moves the order
on, all in the caller's transaction. `resume` ends a pause without a return: the order
goes back to the status it had and its timers are set again (`obligations.rearm`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from ... import errors, ledger, timers
from ...clock import iso, parse_iso
from ...db import Tx
from ...models import orders as o
from ...models import payments as pm
from ...models.aftersale import Refund, ReturnRequest, return_refund_id
from ...models.orders import Order
from ...models.timers import Timer
from ...models.users import User
from ...money import price
from .. import apportion, notifications, rewards
from ..installments import lifecycle as installments
from ..installments import state as plan_state
from ..orders import OrderEvent, obligations, standing, transition
from ..payments.attempts import attempts_for, get_attempt

SYSTEM = "system"
SETTLE_ERRORS = errors.raises(conflict=["state_changed"])


def return_closed() -> Action:
    """The request no longer holds the order (pending_return_id removed): one open return
    fewer on the user item (closure conditions on the count, services/closing.py)."""
    return User.open_returns.add(-1)


UNPAID_BNPL = (o.SHIPPED, o.RECEIVED, o.OVERDUE)  # 先用后付 states where money is still owed
PAID_STATUSES = (pm.SUCCEEDED, pm.REFUNDED)


def stage(tx: Tx, order: Order, fired: Timer | None, wait: tuple[str, datetime] | None) -> list[Action]:
    """Leave the after-sale wait `order` is in (its timer taken or cancelled) and enter
    `wait` (timer kind, deadline) or none; answers the order's actions. The in-memory
    order follows, so `obligations.rearm` sets the new wait's timer."""
    if fired is not None:
        timers.take(tx, fired)
    elif order.aftersale_timer and order.aftersale_due_at:
        timers.cancel(tx, order.aftersale_timer, order.order_id, order.aftersale_due_at)
    if wait is None:
        order.aftersale_timer = order.aftersale_due_at = None
        return [Order.aftersale_timer.remove(), Order.aftersale_due_at.remove()]
    kind, due = wait
    order.aftersale_timer, order.aftersale_due_at = kind, iso(due)
    return [Order.aftersale_timer.set(kind), Order.aftersale_due_at.set(iso(due))]


def deadline(seconds: int, now: datetime) -> datetime:
    return now + timedelta(seconds=seconds)


def pause(
    tx: Tx,
    order: Order,
    now: datetime,
    actor: str,
    verb: str,
    actions: list[Action],
    note: str,
    condition: Condition | None = None,
    *,
    event: str,
    by: OrderEvent = OrderEvent.RETURN_STEP,
) -> None:
    """Move `order` into (`by` REQUEST_RETURN or ESCALATE) or along the after-sale pause and
    set the timer of its wait; `event` names the step in the order's history."""
    transition(
        tx,
        order,
        by,
        now,
        actor,
        verb=verb,
        condition=condition,
        actions=actions,
        note=note,
        history_event=event,
    )
    obligations.rearm(tx, order)


def resume(
    tx: Tx, order: Order, before: str, now: datetime, actor: str, note: str, actions: list[Action], *, event: str
) -> None:
    """End the pause with nothing returned: back to `before`, collection resumes."""
    transition(
        tx,
        order,
        OrderEvent.RESUME,
        now,
        actor,
        to=before,
        actions=[Order.pending_return_id.remove(), *actions],
        note=note,
        history_event=event,
    )
    tx.update(User(order.user_id), [return_closed()])
    # Timers that fell due while the request paused the order were dropped: set them again.
    obligations.rearm(tx, order)


def settle(
    tx: Tx,
    order: Order,
    request: ReturnRequest,
    now: datetime,
    actor: str,
    note: str,
    actions: list[Action],
    *,
    event: str,
    user: User | None = None,
) -> None:
    """The request's goods are returned: credit released or money refunded, settlement
    reversed, the order `returned` (all goods) or back to where it was (some). `user`: the
    buyer if already read."""
    before = request.order_status_before
    amount = int(request.amount_fen)
    returned = {line["sku_id"]: int(line["quantity"]) for line in request.items}
    items = [
        {**i, "returned_quantity": int(i.get("returned_quantity", 0)) + returned.get(i["sku_id"], 0)}
        for i in order.items
    ]
    full = all(int(i["returned_quantity"]) >= int(i["quantity"]) for i in items)
    unpaid_bnpl = order.payment_method == o.BNPL and before in UNPAID_BNPL
    in_parts = installments.on_returned(tx, order, request.request_id, amount, now) if unpaid_bnpl else None
    extra: list[Action] = [
        Order.items.set(items),
        Order.refunded_fen.add(amount),
        Order.pending_return_id.remove(),
        *actions,
    ]
    if unpaid_bnpl:
        extra += _release_credit(tx, order, request, in_parts, full=full, now=now, user=user)
    else:
        extra += _refund_paid(tx, order, request.request_id, amount, full=full, now=now, user=user)
    if order.received_at:
        extra += _reverse_settlement(tx, order, request, items, now)
    # Installments: a return that leaves no part to pay closes the order as paid.
    after = o.RETURNED if full else o.PAID if in_parts is not None and in_parts.owes_nothing else before
    transition(
        tx,
        order,
        OrderEvent.SETTLE_RETURN,
        now,
        actor,
        to=after,
        actions=extra,
        note=note,
        history_event=event,
    )
    if in_parts is not None:
        order.amount_due_fen = installments.amount_due_fen(order) or 0
    elif unpaid_bnpl:
        order.amount_due_fen = int(order.amount_due_fen or 0) - amount
        _notify_completed(tx, order, request, amount, now)
    obligations.rearm(tx, order)  # a partial return leaves the rest owed: its timers again


def _release_credit(
    tx: Tx,
    order: Order,
    request: ReturnRequest,
    in_parts: installments.Returned | None,
    *,
    full: bool,
    now: datetime,
    user: User | None = None,
) -> list[Action]:
    """先用后付 not yet paid: the credit of the returned goods is released and what is owed
    shrinks; the order's actions. An installment plan's unpaid parts shrink and the excess is
    refunded; the order's last obligation ending closes it on the user."""
    amount = int(request.amount_fen)
    if in_parts is not None:  # installments: the unpaid parts shrink, the excess is refunded
        release = in_parts.release_fen
        due = installments.amount_due_fen(order) or 0
        extra = [*in_parts.actions, Order.amount_due_fen.set(due), Order.credit_reserved_fen.add(-release)]
        extra += _owe_refunds(tx, order, request.request_id, in_parts.refund_fen, now)
        # The points of parts paid follow the money that goes back (nothing when none does).
        rewards.reverse_points(tx, order, amount, now, installments.points_earned(order) or 0)
    else:
        release = min(amount, int(order.credit_reserved_fen or 0))
        extra = [Order.amount_due_fen.add(-amount), Order.credit_reserved_fen.add(-release)]
    ledger.post(
        tx,
        event_id=f"return:{request.request_id}:credit_released",
        kind="credit_released",
        at=now,
        ref=order.order_id,
        legs=ledger.credit_released(order.user_id, release),
    )
    if full or (in_parts is not None and in_parts.owes_nothing):
        _close_unpaid_bnpl(tx, order.user_id, was_overdue=request.order_status_before == o.OVERDUE, user=user)
    else:
        tx.update(User(order.user_id), [return_closed()])
    return extra


def _refund_paid(
    tx: Tx, order: Order, request_id: str, amount: int, *, full: bool, now: datetime, user: User | None = None
) -> list[Action]:
    """Money already paid goes back through the channel that paid it; the order's actions."""
    actions = _owe_refunds(tx, order, request_id, amount, now)
    # Points, the on-time count and the limit step it earned follow the money back.
    earned = installments.points_earned(order)
    change = rewards.on_refunded(tx, order, amount, now, full=full, user=user, earned=earned)
    user_actions, condition = change.merged([return_closed()], None)
    tx.update(
        User(order.user_id),
        user_actions,
        condition=condition,
        on_fail=errors.state_changed("the account changed meanwhile; retry"),
    )
    return actions


def _owe_refunds(tx: Tx, order: Order, request_id: str, amount: int, now: datetime) -> list[Action]:
    """Owe `amount` back through the payments that paid the order: the one payment, or for
    installments each part's payment (its own or the monthly bill's that paid it), newest
    first, up to what is left of each; answers the order's actions.

    A bill payment paid several orders: each order is owed back at most the parts it paid of
    this order (`Order.bill_refunds_owed`, written with the order's settling transition),
    and the payment's `refund_owed_fen` (conditional) at most its amount over all orders."""
    if amount <= 0:
        return []
    shares: list[tuple[str | None, str, int]] = [(None, order.paid_channel or order.payment_method, amount)]
    actions: list[Action] = []
    plan = plan_state.plan_of(order) if order.installment_plan else None
    if plan is not None:
        shares, left = [], amount
        paid = [a for a in attempts_for(order.order_id) if a.outcome == pm.APPLIED and a.status in PAID_STATUSES]
        seqs: dict[str, set[int]] = {}
        for part in plan.schedule:
            if part.bill_attempt_id:
                seqs.setdefault(part.bill_attempt_id, set()).add(part.seq)
        bills = [a for a in map(get_attempt, sorted(seqs)) if a is not None and a.status in PAID_STATUSES]
        by_bill = {  # what each bill payment applied to this order (its lines, as locked)
            a.attempt_id: sum(
                int(line["amount_fen"])
                for line in a.lines or []
                if line["order_id"] == order.order_id and int(line["seq"]) in seqs[a.attempt_id]
            )
            for a in bills
        }
        owed_bills: dict[str, int] = dict(order.bill_refunds_owed or {})
        for attempt in sorted([*paid, *bills], key=lambda a: (a.created_at, int(a.attempt_no)), reverse=True):
            owed = attempt.refund_owed_fen
            already = max(int(attempt.refunded_fen or 0), int(owed or 0))
            room = int(attempt.amount_fen) - already
            if attempt.attempt_id in by_bill:  # this order's lines only
                room = min(room, by_bill[attempt.attempt_id] - int(owed_bills.get(attempt.attempt_id, 0)))
            take = min(left, room)
            if take > 0:
                shares.append((attempt.attempt_id, attempt.channel, take))
                left -= take
                if attempt.attempt_id in by_bill:
                    owed_bills[attempt.attempt_id] = int(owed_bills.get(attempt.attempt_id, 0)) + take
                tx.update(
                    attempt,
                    [pm.PaymentAttempt.refund_owed_fen.set(already + take)],
                    condition=pm.PaymentAttempt.refund_owed_fen.does_not_exist()
                    if owed is None
                    else pm.PaymentAttempt.refund_owed_fen == int(owed),
                )
        if owed_bills != (order.bill_refunds_owed or {}):
            actions.append(Order.bill_refunds_owed.set(owed_bills))
    for n, (attempt_id, channel, share) in enumerate(shares):
        refund = Refund(
            return_refund_id(request_id) + (f"_{n}" if n else ""),
            order_id=order.order_id,
            user_id=order.user_id,
            channel=channel,
            amount_fen=share,
            created_at=iso(now),
            attempt_id=attempt_id,
        )
        tx.save(refund, condition=Refund.refund_id.does_not_exist())
        timers.schedule(tx, timers.REFUND, refund.refund_id, now)
    return actions


def _notify_completed(tx: Tx, order: Order, request: ReturnRequest, amount: int, now: datetime) -> None:
    """The buyer hears the return is done: no refund will follow (the money was never paid),
    the amount due went down (a paid order's refund notifies when the money moves)."""
    owed = int(order.amount_due_fen or 0)
    notifications.notify(
        tx,
        order.user_id,
        notifications.RETURN_COMPLETED,
        "退货完成 (return completed)",
        f"order {order.order_id}: {price(amount)} of 先用后付 credit released; "
        + (f"{price(owed)} still due" if owed > 0 else "nothing left to pay"),
        order.order_id,
        f"return:{request.request_id}:completed",
        now,
    )


def _close_unpaid_bnpl(tx: Tx, user_id: str, *, was_overdue: bool, user: User | None = None) -> None:
    """A 先用后付 order no longer owes anything: it stops counting as unpaid (and overdue)."""
    user = user or User.get(user_id, consistent_read=True)
    actions, condition = standing.closed(user, was_overdue=was_overdue)
    tx.update(
        user,
        [*actions, return_closed()],
        condition=condition,
        on_fail=errors.conflict("state_changed", "the account changed meanwhile; retry"),
    )


def _reverse_settlement(
    tx: Tx, order: Order, request: ReturnRequest, items: list[dict[str, Any]], now: datetime
) -> list[Action]:
    """Take back what was settled less the settlement of the goods still kept (`items`).

    The payable may go below zero (the merchant was already paid out): payouts carry it
    until later sales cover it (services/payouts.py)."""
    payable, fee = apportion.settlement_reversal(
        int(order.settled_payable_fen or 0), int(order.settled_fee_fen or 0), apportion.kept_goods_fen(items)
    )
    ledger.post(
        tx,
        event_id=f"return:{request.request_id}:settlement_reversed",
        kind="merchant_settlement_reversed",
        at=now,
        ref=order.order_id,
        legs=ledger.merchant_settled(order.merchant_id, -payable, -fee),
    )
    return [Order.settled_payable_fen.add(-payable), Order.settled_fee_fen.add(-fee)]


def passed(at: str | None, now: datetime) -> bool:
    return at is not None and parse_iso(at) <= now
