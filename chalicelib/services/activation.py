"""先用后付 activation (开通): the agreement and the eligibility rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from .. import errors, ledger
from ..clock import iso
from ..config import settings
from ..db import Tx
from ..errors import FieldError
from ..models.users import BNPL_ACTIVE, BNPL_INACTIVE, User
from . import accounts, validators

if TYPE_CHECKING:
    from ..idempotency import IdemScope

ACTIVATE_ERRORS = errors.raises(conflict=["already_activated"], unprocessable=["not_eligible"])

AGREEMENT_TITLE = "PayLater 先用后付服务协议"
AGREEMENT_TEXT = """\
1. 先用后付: you receive goods first and pay within the payment window ({window_days} days
   after you confirm receipt, or after receipt is confirmed automatically).
2. If you have not paid when the window closes, the bound bank card is charged
   automatically. If that fails the order becomes overdue, we retry daily up to
   {retries} times, and 先用后付 is paused until every overdue order is paid.
3. Your starting credit limit is ¥{start_yuan}; it rises by ¥{step_yuan} after every
   {step_every} orders paid on time, up to ¥{max_yuan}.
4. Orders paid on time earn {points_per_yuan} point per whole yuan; {redeem_rate} points are
   worth ¥1 and can be redeemed to your wallet balance after review.
5. Returns agreed by the merchant release your credit, or refund what you paid.
6. Your ID number and card number are stored encrypted or tokenized, shown only masked,
   and used only to provide this service.
"""

# Hooks other parts of the story register (e.g. the welcome coupon): called with the
# activation transaction so their writes commit with it.
ACTIVATION_HOOKS: list[Callable[[Tx, User, datetime], None]] = []


def agreement() -> tuple[str, str, str]:
    r = settings().rules
    text = AGREEMENT_TEXT.format(
        window_days=r.payment_window_seconds // 86400,
        retries=r.collection_max_retries,
        start_yuan=r.credit_start_fen // 100,
        step_yuan=r.credit_step_fen // 100,
        step_every=r.credit_step_every_on_time,
        max_yuan=r.credit_max_fen // 100,
        points_per_yuan=r.points_per_yuan_paid,
        redeem_rate=r.points_per_yuan_redeemed,
    )
    return r.agreement_version, AGREEMENT_TITLE, text


def eligibility_problems(user: User, agreement_version: str, today: date) -> list[FieldError]:
    """Each unmet condition of SPEC.md's eligibility rule, by name."""
    rules = settings().rules
    problems: list[FieldError] = []
    if not user.verified_at or not user.birth_date:
        problems.append(FieldError("identity", "complete real-name verification first"))
    elif validators.age_on(date.fromisoformat(user.birth_date), today) < rules.min_age_years:
        problems.append(FieldError("identity", f"the account holder must be {rules.min_age_years} or over"))
    if not user.default_card_id:
        problems.append(FieldError("bank_card", "bind a bank card for automatic payment"))
    if agreement_version != rules.agreement_version:
        problems.append(
            FieldError("agreement_version", f"accept the current agreement, version {rules.agreement_version}")
        )
    return problems


@dataclass(frozen=True)
class Activated:
    """What an activation left: the user as written and the credit book it opened (nothing
    used yet), so the answer needs no read after the commit (a failed read would say 503)."""

    user: User
    credit_limit_fen: int


def activate(user_id: str, agreement_version: str, now: datetime, idem: IdemScope | None = None) -> Activated:
    """Open 先用后付 with the starting credit limit, once, for an eligible user (`idem`
    stages the answer in the activation's transaction: a lost answer replays)."""
    user = accounts.get_or_create(user_id, now)
    if user.bnpl_status != BNPL_INACTIVE:
        raise errors.conflict("already_activated", "先用后付 is already activated")
    problems = eligibility_problems(user, agreement_version, now.date())
    if problems:
        raise errors.unprocessable(
            "not_eligible", "先用后付 cannot be activated yet: " + "; ".join(p.message for p in problems), problems
        )
    tx = Tx()
    tx.update(
        user,
        [
            User.bnpl_status.set(BNPL_ACTIVE),
            User.agreement_version.set(agreement_version),
            User.activated_at.set(iso(now)),
        ],
        condition=(User.bnpl_status == BNPL_INACTIVE) & User.default_card_id.exists(),
        on_fail=errors.conflict("already_activated", "先用后付 is already activated"),
    )
    limit = settings().rules.credit_start_fen
    ledger.open_credit(tx, user_id, limit, now)
    for hook in ACTIVATION_HOOKS:
        hook(tx, user, now)
    user.bnpl_status, user.agreement_version, user.activated_at = BNPL_ACTIVE, agreement_version, iso(now)
    result = Activated(user, limit)
    if idem is not None:
        idem.stage(tx, result)
    tx.commit()
    return result
