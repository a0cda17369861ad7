"""Rewards for 先用后付 orders paid on time: points, the credit-limit step, coupons.

Called by the collection code inside the transaction that marks the order paid (or
refunds it), so a reward commits or fails with the payment. The caller usually updates
the user item in that transaction too, and DynamoDB refuses two operations on one item
in a transaction, so these functions never write the user item themselves: they return a
`UserChange` (actions plus the condition they rely on) for the caller to merge into its
own update of the user, or to `apply` when it has none.

Points (SPEC "points"): `points_per_yuan_paid` per whole yuan paid, event
`order:<id>:points_earned`, legs user `points` +p / platform `points_issued` -p.
Points follow the money: an order paid on time keeps the points of the whole yuan still
paid for, i.e. of its total less everything returned (credit released before payment or
money refunded after it), never more than it earned. A refund reverses the difference
(event `order:<id>:points_reversed:<refunded total>`), so a full refund leaves none. Points
may not go negative: if the user has already spent (or holds for a redemption) some of
them, what is there is taken and the shortfall is booked to the user's `points_owed` book
(at most zero), which the next points earned settle first. So the ledger explains every
point, and no balance goes below zero.

The credit limit (SPEC "starting credit limit") follows the on-time orders kept:
`limit_for(n)` = the starting limit plus one step for every `credit_step_every_on_time` of
them, up to the maximum, where n (`on_time_paid_count`) counts the 先用后付 orders paid on
time and not fully returned. Paying one on time adds it (and may raise the limit); a full
return of one takes it out again and lowers the limit to `limit_for(n - 1)` if that is
lower - also when more credit is in use than the new limit: the user then has no credit
available until enough is repaid, and nothing already bought changes. A partial return
keeps the order in the count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from .. import errors, ledger
from ..clock import iso
from ..config import settings
from ..db import Tx
from ..ledger import PLATFORM, POINTS, POINTS_ISSUED, POINTS_OWED, Leg
from ..models.coupons import AVAILABLE, Coupon
from ..models.ledger import Balance
from ..models.orders import BNPL, Order
from ..models.users import User
from . import accounts, activation

WELCOME = "welcome"
ON_TIME = "on_time"
REWARD_ERRORS = errors.raises(conflict=["state_changed"])  # a lost race: the caller retries


@dataclass
class UserChange:
    """Updates to the user item that a reward needs, and the condition they assume."""

    actions: list[Action] = field(default_factory=list)
    condition: Condition | None = None

    def merged(self, actions: list[Action], condition: Condition | None) -> tuple[list[Action], Condition | None]:
        """The caller's own actions and condition with these added."""
        if self.condition is None:
            return [*actions, *self.actions], condition
        return [*actions, *self.actions], self.condition if condition is None else condition & self.condition

    def apply(self, tx: Tx, user: User) -> None:
        """Write the change alone (for a caller that does not update the user itself)."""
        if self.actions:
            tx.update(
                user,
                self.actions,
                condition=self.condition,
                on_fail=errors.state_changed("the account changed meanwhile; retry"),
            )


def points_for(fen: int) -> int:
    return fen // 100 * settings().rules.points_per_yuan_paid


def limit_for(on_time_kept: int) -> int:
    """The credit limit earned by `on_time_kept` 先用后付 orders paid on time and kept."""
    rules = settings().rules
    steps = max(on_time_kept, 0) // rules.credit_step_every_on_time
    return min(rules.credit_start_fen + steps * rules.credit_step_fen, rules.credit_max_fen)


def _set_limit(tx: Tx, user_id: str, target: int, now: datetime, *, up: bool) -> None:
    """Move the credit limit to `target` if that is a move in the direction asked."""
    credit = ledger.balances(ledger.user_account(user_id)).get(ledger.CREDIT)
    if credit is None or credit.limit is None:
        return
    old_limit = int(credit.limit)
    if (target > old_limit) if up else (target < old_limit):
        ledger.change_credit_limit(tx, user_id, old_limit, target, now)


def earn_points(tx: Tx, user_id: str, order_id: str, paid_fen: int, now: datetime, *, event_id: str) -> None:
    """Points for `paid_fen` paid on time (points a refund took back and still owed are settled first)."""
    points = points_for(paid_fen)
    if points <= 0:
        return
    account = ledger.user_account(user_id)
    owed = -int((ledger.balances(account).get(POINTS_OWED) or _zero()).balance)
    settle = min(points, owed)
    ledger.post(
        tx,
        event_id=event_id,
        kind="points_earned",
        at=now,
        legs=[
            Leg(account, POINTS, points - settle),
            Leg(account, POINTS_OWED, settle),
            Leg(PLATFORM, POINTS_ISSUED, -points),
        ],
        ref=order_id,
        insufficient=errors.state_changed("the points balance changed meanwhile; retry"),
    )


def earned_event(order_id: str) -> str:
    return f"order:{order_id}:points_earned"


def on_paid_on_time(
    tx: Tx, order: Order, now: datetime, *, user: User | None = None, paid_fen: int | None = None
) -> UserChange:
    """Reward a 先用后付 order paid on time: points, the credit-limit step, coupon rules.

    `order` is the order as read before the payment, so `amount_due_fen` is what is being
    paid (pass `paid_fen` to say otherwise). Returns the user-item change to merge.
    """
    if order.payment_method != BNPL:
        return UserChange()
    user = user or accounts.get(order.user_id)
    rules = settings().rules
    paid = int(order.amount_due_fen if paid_fen is None else paid_fen)
    earn_points(tx, user.user_id, order.order_id, paid, now, event_id=earned_event(order.order_id))

    count = int(user.on_time_paid_count or 0)
    new_count = count + 1
    condition = User.on_time_paid_count == count
    if count == 0:
        condition = condition | User.on_time_paid_count.does_not_exist()
    change = UserChange([User.on_time_paid_count.add(1)], condition)

    _set_limit(tx, user.user_id, limit_for(new_count), now, up=True)

    if rules.on_time_coupon_fen > 0 and new_count >= rules.on_time_coupon_after:
        issue_coupon(
            tx,
            user.user_id,
            rule=f"{ON_TIME}_{rules.on_time_coupon_after}",
            title=f"按时还款满{rules.on_time_coupon_after}单奖励券",
            discount_fen=rules.on_time_coupon_fen,
            min_spend_fen=rules.on_time_coupon_min_spend_fen,
            valid_seconds=rules.on_time_coupon_valid_seconds,
            now=now,
        )
    return change


def on_refunded(
    tx: Tx,
    order: Order,
    refund_fen: int,
    now: datetime,
    *,
    full: bool = False,
    user: User | None = None,
    earned: int | None = None,
) -> UserChange:
    """A return of a paid order was approved: its points and its place in the on-time count
    follow the money (see the module's docstring).

    `order` is as read before this refund (`refunded_fen` excludes it); `full`: nothing of
    the order is kept any more. `earned`: the points an installment order earned part by part
    (None: the single payment's one event says). The on-time count changes only for an order
    paid on time. Returns the user-item change to merge.
    """
    if refund_fen <= 0 or order.payment_method != BNPL:
        return UserChange()
    if earned is None:
        if not order.paid_on_time:
            return UserChange()
        earned = -(ledger.leg_amount(PLATFORM, earned_event(order.order_id), POINTS_ISSUED) or 0)
    reverse_points(tx, order, refund_fen, now, earned)
    if not full or not order.paid_on_time:
        return UserChange()
    user = user or accounts.get(order.user_id)
    count = int(user.on_time_paid_count or 0)
    if count <= 0:
        return UserChange()
    _set_limit(tx, user.user_id, limit_for(count - 1), now, up=False)
    return UserChange([User.on_time_paid_count.add(-1)], User.on_time_paid_count == count)


def reverse_points(tx: Tx, order: Order, refund_fen: int, now: datetime, earned: int) -> None:
    """The points of `earned` that `refund_fen` more returned leaves the order no longer paying for."""
    if earned <= 0:
        return
    total = int(order.total_fen)
    before = int(order.refunded_fen or 0)
    after = before + refund_fen
    # What the order still pays for, whether the rest was released before payment or refunded after.
    reverse = min(earned, points_for(total - before)) - min(earned, points_for(total - after))
    if reverse <= 0:
        return
    account = ledger.user_account(order.user_id)
    have = int((ledger.balances(account).get(POINTS) or _zero()).balance)
    take = min(reverse, max(have, 0))
    ledger.post(
        tx,
        event_id=f"order:{order.order_id}:points_reversed:{after}",
        kind="points_reversed",
        at=now,
        legs=[
            Leg(account, POINTS, -take),
            Leg(account, POINTS_OWED, -(reverse - take)),
            Leg(PLATFORM, POINTS_ISSUED, reverse),
        ],
        ref=order.order_id,
        insufficient=errors.state_changed("the points balance changed meanwhile; retry"),
    )


# --- coupons ------------------------------------------------------------------------------


def coupon_id_for(rule: str) -> str:
    """One coupon per rule and user: the id is the rule's, inside the user's partition."""
    return f"cpn_{rule}"


def issue_coupon(
    tx: Tx,
    user_id: str,
    *,
    rule: str,
    title: str,
    discount_fen: int,
    min_spend_fen: int,
    valid_seconds: int,
    now: datetime,
) -> bool:
    """Add the coupon a rule grants to `tx`, unless the user already has it."""
    coupon_id = coupon_id_for(rule)
    try:
        Coupon.get(user_id, coupon_id, consistent_read=True)
        return False
    except DoesNotExist:
        pass
    tx.save(
        Coupon(
            user_id,
            coupon_id,
            rule=rule,
            title=title,
            discount_fen=discount_fen,
            min_spend_fen=min_spend_fen,
            expires_at=iso(now + timedelta(seconds=valid_seconds)),
            status=AVAILABLE,
            issued_at=iso(now),
        ),
        condition=Coupon.coupon_id.does_not_exist(),
        on_fail=errors.state_changed("the coupon was issued meanwhile; retry"),
    )
    return True


def issue_welcome_coupon(tx: Tx, user: User, now: datetime) -> None:
    """Activation hook: the welcome coupon (a zero value in config turns it off)."""
    rules = settings().rules
    if rules.welcome_coupon_fen <= 0:
        return
    issue_coupon(
        tx,
        user.user_id,
        rule=WELCOME,
        title="先用后付新人券",
        discount_fen=rules.welcome_coupon_fen,
        min_spend_fen=rules.welcome_coupon_min_spend_fen,
        valid_seconds=rules.welcome_coupon_valid_seconds,
        now=now,
    )


def _zero() -> Balance:
    return Balance("", "", balance=0)


if issue_welcome_coupon not in activation.ACTIVATION_HOOKS:
    activation.ACTIVATION_HOOKS.append(issue_welcome_coupon)
