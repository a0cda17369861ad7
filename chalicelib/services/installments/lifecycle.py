"""Where installments hook into an order's life: checkout, confirmation, receipt, payment.

Each hook is called by the step it names, inside that step's transaction:
- `attach` (checkout): the requested plan is quoted again for the order; a stale checksum is
  409 `plan_changed`.
- `on_confirmed` (confirmation): the consumer's fee is charged (`installment_fee_owed`); the
  principal is reserved by confirmation as for a single payment.
- `on_receipt` (receipt): the parts are dated (part 1 when the window would close, each next
  part a calendar month later); the order owes part 1; a 免息 fee leaves the merchant's payable.
- `on_paid` (a payment settles, `repayment.mark_paid`): the next part, or everything (the
  fee of each part whose month has not begun is waived). A part that is not the last moves
  the order on to the next part (`received` again); the last lets `mark_paid` close the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from pynamodb.expressions.update import Action

from ... import errors, ledger, timers
from ...clock import iso, parse_iso
from ...config import settings
from ...db import Tx
from ...models import orders as o
from ...models.catalog import Product
from ...models.orders import Order
from ...models.payments import PaymentAttempt
from ...models.users import User
from .. import orders, rewards
from ..orders import standing
from ..payments.attempts import BILL, COLLECTION
from ..payments.payable import ALL, order_moved, user_moved
from . import arithmetic as ar
from . import fees, quotes
from .state import PartState, PlanState, plan_of

FEE_MOVED = "the fee owed changed meanwhile"


@dataclass(frozen=True)
class Request:
    parts: int
    schedule_checksum: str


def plan_changed() -> errors.DomainError:
    return errors.conflict("plan_changed", "the plan's terms changed since the quote: ask for plans again")


# A checkout asking for installments (the plan is quoted again and must match).
PLAN_ERRORS = quotes.QUOTE_ERRORS | errors.raises(
    conflict=["plan_changed"], unprocessable=["installments_need_bnpl", "installments_one_merchant"]
)


def interest_free_parts(order: Order) -> set[int]:
    """The 免息 plans every product of the order offers (the merchant pays their fee)."""
    product_ids = sorted({str(item["product_id"]) for item in order.items})
    common: set[int] | None = None
    for product in Product.batch_get(product_ids):
        offered = {int(n) for n in product.interest_free_parts or []}
        common = offered if common is None else common & offered
    return common or set()


def attach(new_orders: list[Order], request: Request | None, payment_method: str) -> None:
    """Checkout: put the quoted plan on the (one) order, if the checksum still matches."""
    if request is None:
        return
    if payment_method != o.BNPL:
        raise errors.unprocessable(
            "installments_need_bnpl",
            "installments are a 先用后付 plan",
            [errors.FieldError("installments", "only with payment_method bnpl")],
        )
    if len(new_orders) != 1:
        raise errors.unprocessable(
            "installments_one_merchant",
            "check out one shop's goods at a time to pay them in parts",
            [errors.FieldError("installments", "the checkout makes more than one order")],
        )
    order = new_orders[0]
    quote = quotes.quote(int(order.total_fen), request.parts, interest_free_parts(order))
    if quote.schedule_checksum != request.schedule_checksum:
        raise plan_changed()
    plan = PlanState(
        parts=quote.parts,
        fee_fen=quote.fee_fen,
        fee_payer=quote.fee_payer,
        apr_bps=quote.apr_bps,
        checksum=quote.schedule_checksum,
        schedule=tuple(PartState(p.seq, p.principal_fen, p.fee_fen) for p in quote.schedule),
    )
    order.installment_plan = plan.to_json()


def consumer_fee_fen(plan: PlanState) -> int:
    return plan.fee_fen if plan.fee_payer == quotes.CONSUMER else 0


def on_confirmed(tx: Tx, order: Order, now: datetime) -> None:
    """Confirmation: the consumer's fee is charged (nothing for a single payment or 免息)."""
    plan = plan_of(order)
    if plan is None or consumer_fee_fen(plan) == 0:
        return
    ledger.post(
        tx,
        event_id=f"order:{order.order_id}:installment_fee",
        kind="installment_fee_charged",
        at=now,
        legs=ledger.installment_fee_charged(order.user_id, consumer_fee_fen(plan)),
        ref=order.order_id,
    )


def reminder_lead(order: Order) -> timedelta:
    """How long before a due date the reminder goes out (installments have their own lead)."""
    rules = settings().rules
    seconds = rules.installment_reminder_lead_seconds if plan_of(order) else rules.due_reminder_lead_seconds
    return timedelta(seconds=seconds)


def on_receipt(tx: Tx, order: Order, first_due: datetime, now: datetime) -> list[Action]:
    """Receipt: date the parts; the order owes part 1 by `first_due`. The 免息 fee leaves the
    merchant's payable (its own book). Answers the order updates to add ([] for a single payment)."""
    plan = plan_of(order)
    if plan is None:
        return []
    dates = ar.due_dates(first_due, plan.parts)
    dated = replace(plan, schedule=tuple(replace(p, due_at=iso(d)) for p, d in zip(plan.schedule, dates, strict=True)))
    order.installment_plan = dated.to_json()
    if plan.fee_payer == quotes.MERCHANT:  # less the share of goods a return took before receipt
        fee = plan.fee_fen - ar.fee_share(plan.fee_fen, int(order.total_fen), int(order.refunded_fen or 0))
        fees.charge_merchant_fee(tx, order, f"order:{order.order_id}:merchant_installment_fee", fee, now)
    first = dated.current  # part 1, unless a return before receipt took every part
    order.amount_due_fen = first.amount_fen if first else 0
    return [Order.installment_plan.set(dated.to_json()), Order.amount_due_fen.set(first.amount_fen if first else 0)]


@dataclass
class Closing:
    """What `mark_paid` needs to close an installment order whose last part was paid."""

    actions: list[Action] = field(default_factory=list)
    all_on_time: bool = True


def _part_paid(
    plan: PlanState, part: PartState, now: datetime, on_time: bool, *, fee_waived: int = 0, by: str | None = None
) -> PlanState:
    """`by`: the monthly bill payment that paid the part, if one did."""
    paid = replace(
        part,
        bill_attempt_id=by,
        status=ar.PartStatus.PAID,
        paid_at=iso(now),
        on_time=on_time,
        fee_fen=part.fee_fen - fee_waived,
        fee_waived_fen=part.fee_waived_fen + fee_waived,
    )
    return plan.replace_part(paid)


def on_paid(tx: Tx, order: Order, attempt: PaymentAttempt, now: datetime, user: User) -> Closing | None:
    """A payment of `attempt.amount_fen` settles on an installment order (None: a single payment).

    The amount says what it pays: the current part (`amount_due_fen`) or everything left
    (the payoff). Fee shares are paid (or waived) and points earned per part paid on time
    here; the credit of every part but the last is given back here, the rest by `mark_paid`.
    """
    plan = plan_of(order)
    if plan is None:
        return None
    current = plan.current
    if current is None:
        raise order_moved()
    amount = int(attempt.amount_fen)
    in_window = order.status == o.RECEIVED
    current_on_time = in_window and (attempt.purpose == COLLECTION or now <= parse_iso(str(current.due_at)))
    oid = order.order_id
    if attempt.part_seq is not None and int(attempt.part_seq) != current.seq:
        raise order_moved()  # its part was paid meanwhile (`payable.takes` refunds it)
    if _pays_current(attempt, amount == int(order.amount_due_fen)):
        by = attempt.attempt_id if attempt.purpose == BILL else None
        after = _part_paid(plan, current, now, current_on_time, by=by)
        paid_parts = [current]
        fee_paid, waived, event = current.fee_fen, 0, f"order:{oid}:part{current.seq}"
    else:
        done = ar.payoff([p.arithmetic() for p in plan.schedule], plan.dues(), now)
        if done.payoff_fen != amount:
            raise order_moved()  # the payoff changed (a month began) since the payment started
        after = plan
        paid_parts = [p for p in plan.schedule if p.unpaid]
        for part in paid_parts:
            begun = ar.month_begun(part.seq, plan.dues(), now)
            on_time = current_on_time if part.seq == current.seq else True
            after = _part_paid(after, part, now, on_time, fee_waived=0 if begun else part.fee_fen)
        fee_paid = sum(p.fee_fen for p in paid_parts) - done.fee_waived_fen
        waived, event = done.fee_waived_fen, f"order:{oid}:payoff"
    ledger.post(
        tx,
        event_id=f"{event}:fee_paid",
        kind="installment_fee_paid",
        at=now,
        legs=ledger.installment_fee_paid(order.user_id, fee_paid),
        ref=oid,
        insufficient=user_moved(FEE_MOVED),
    )
    fees.forgive_consumer_fee(tx, order, f"{event}:fee_waived", waived, now, user_moved(FEE_MOVED))
    # 1 point per whole yuan of each part's principal paid on time.
    on_time_seqs = {p.seq for p in after.schedule if p.on_time}
    earned = sum(p.principal_fen // 100 * 100 for p in paid_parts if p.seq in on_time_seqs)
    rewards.earn_points(tx, order.user_id, oid, earned, now, event_id=f"{event}:points")
    _move_timers(tx, order, current, after, now)
    nxt = after.current
    if nxt is None:
        return Closing(
            actions=[Order.installment_plan.set(after.to_json())],
            all_on_time=all(p.on_time for p in after.schedule if p.status == ar.PartStatus.PAID),
        )
    _next_part(tx, order, current, after, nxt, now, user)
    return _ADVANCED


def _pays_current(attempt: PaymentAttempt, amount_is_the_part: bool) -> bool:
    """The attempt pays the current part (else everything left): as it recorded, or (an
    attempt from before they did) as its amount says."""
    if attempt.part_scope is None or attempt.part_scope == ALL:
        return attempt.part_scope is None and amount_is_the_part
    if not amount_is_the_part:
        raise order_moved()  # the part's amount changed (a return) since the attempt began
    return True


# `on_paid`'s answer when the order moved on to its next part (a sentinel: compared by identity).
_ADVANCED = Closing()


def advanced(closing: Closing | None) -> bool:
    """True when `on_paid` moved the order on to its next part (nothing left for `mark_paid`)."""
    return closing is _ADVANCED


def _next_part(
    tx: Tx, order: Order, paid: PartState, after: PlanState, nxt: PartState, now: datetime, user: User
) -> None:
    """The order owes the next part: `received` again, the credit of the part paid given back."""
    was_overdue = order.status == o.OVERDUE
    amount = int(order.amount_due_fen)
    actions: list[Action] = [
        Order.installment_plan.set(after.to_json()),
        Order.amount_due_fen.set(nxt.amount_fen),
        Order.due_at.set(str(nxt.due_at)),
        Order.credit_reserved_fen.add(-paid.principal_fen),
        Order.collection_attempts.set(0),
    ]
    orders.transition(
        tx,
        order,
        orders.OrderEvent.PAY_PART,
        now,
        "system",
        actions=actions,
        condition=(Order.amount_due_fen == amount) & (Order.due_at == str(order.due_at)),
        on_fail=order_moved(),
        note=f"part {paid.seq} paid",
    )
    ledger.post(
        tx,
        event_id=f"order:{order.order_id}:part{paid.seq}:credit_repaid",
        kind="credit_repaid",
        at=now,
        legs=ledger.credit_released(order.user_id, paid.principal_fen),
        ref=order.order_id,
        insufficient=user_moved("the credit balance changed meanwhile"),
    )
    if was_overdue:
        cleared, condition = standing.overdue_cleared(user)
        tx.update(user, cleared, condition=condition, on_fail=user_moved())
    due = parse_iso(str(nxt.due_at))
    timers.schedule(tx, timers.PAYMENT_DUE, order.order_id, due, {"part": nxt.seq})
    reminder = due - reminder_lead(order)
    if reminder > now:
        timers.schedule(tx, timers.DUE_REMINDER, order.order_id, reminder)
    order.amount_due_fen, order.due_at = nxt.amount_fen, nxt.due_at
    order.installment_plan = after.to_json()


def _move_timers(tx: Tx, order: Order, current: PartState, after: PlanState, now: datetime) -> None:
    """The paid part's collection and reminder timers go when it was paid before its date
    (for the last part `mark_paid` does it, as for a single payment)."""
    due = parse_iso(str(current.due_at))
    if now < due and after.current is not None:
        timers.cancel(tx, timers.PAYMENT_DUE, order.order_id, due)
        timers.cancel(tx, timers.DUE_REMINDER, order.order_id, due - reminder_lead(order))
    if after.current is None:
        # Closed: the return window measured from receipt completes it (the receipt's timer key).
        timers.schedule(tx, timers.ORDER_COMPLETION, order.order_id, parse_iso(str(after.schedule[0].due_at)))


# --- returns -------------------------------------------------------------------------------


@dataclass
class Returned:
    """What a return does to an installment order's plan (for `aftersale.refunds.settle`)."""

    actions: list[Action]
    release_fen: int  # credit given back: the principal taken off unpaid parts
    refund_fen: int  # what exceeded the unpaid rest: money back to the payer
    owes_nothing: bool  # no part is left to pay


def on_returned(tx: Tx, order: Order, request_id: str, amount_fen: int, now: datetime) -> Returned | None:
    """A return of `amount_fen` of the price: unpaid parts shrink from the last backwards with
    their fee share (forgiven in the ledger), the excess is refunded; a 免息 plan gives the
    merchant back the fee share of the returned goods. None for a single payment."""
    plan = plan_of(order)
    if plan is None:
        return None
    outcome = ar.apply_refund([p.arithmetic() for p in plan.schedule], amount_fen)
    after = plan.with_parts(outcome.parts)
    event_id = f"return:{request_id}:installment_fee_forgiven"
    fees.forgive_consumer_fee(tx, order, event_id, outcome.fee_reduced_fen, now, user_moved(FEE_MOVED))
    if plan.fee_payer == quotes.MERCHANT and order.received_at:
        total, before = int(order.total_fen), int(order.refunded_fen or 0)
        share = ar.fee_share(plan.fee_fen, total, before + amount_fen) - ar.fee_share(plan.fee_fen, total, before)
        fees.charge_merchant_fee(tx, order, f"return:{request_id}:merchant_installment_fee", -share, now)
    nxt = after.current
    order.installment_plan = after.to_json()
    return Returned(
        actions=[Order.installment_plan.set(after.to_json())],
        release_fen=outcome.principal_reduced_fen,
        refund_fen=outcome.refund_to_payer_fen,
        owes_nothing=nxt is None,
    )


def amount_due_fen(order: Order) -> int | None:
    """What the order owes now by its plan (the current part), None for a single payment."""
    plan = plan_of(order)
    if plan is None:
        return None
    current = plan.current
    return current.amount_fen if current is not None else 0


def points_earned(order: Order) -> int | None:
    """The points the order's parts earned (each part paid on time: 1 per whole yuan of its
    principal, as `on_paid` gave them), None for a single payment."""
    plan = plan_of(order)
    if plan is None:
        return None
    paid = sum(p.principal_fen // 100 * 100 for p in plan.schedule if p.status == ar.PartStatus.PAID and p.on_time)
    return rewards.points_for(paid)
