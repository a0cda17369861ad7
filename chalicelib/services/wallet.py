"""The wallet: the summary from stored balances, the entries behind it, and coupons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pynamodb.expressions.condition import Condition

from .. import ledger, pagination
from ..clock import iso
from ..config import settings
from ..ledger import unit as unit
from ..models.coupons import AVAILABLE, RESERVED, USED
from ..models.coupons import Coupon as Coupon
from ..models.ledger import Entry as Entry
from ..models.redemptions import Redemption as Redemption
from . import accounts, rewards  # noqa: F401  (importing rewards registers the welcome-coupon hook)

# Other parts of the story register a counter of the coupons the user can use now.
COUPON_COUNTERS: list[Callable[[str, datetime], int]] = []

EXPIRED = "expired"
COUPON_STATUSES = (AVAILABLE, RESERVED, USED, EXPIRED)


@dataclass(frozen=True)
class WalletSummary:
    bnpl_status: str
    credit_limit_fen: int
    credit_used_fen: int
    cash_fen: int
    points: int
    points_held: int
    points_owed: int
    coupons_available: int

    @property
    def credit_available_fen(self) -> int:
        return max(self.credit_limit_fen - self.credit_used_fen, 0)

    @property
    def redeemable_fen(self) -> int:
        return points_value_fen(self.points)


def points_value_fen(points: int) -> int:
    """What `points` are worth in fen (SPEC: 100 points = ¥1), rounded down."""
    return points * 100 // settings().rules.points_per_yuan_redeemed


def summary(user_id: str, now: datetime) -> WalletSummary:
    user = accounts.get_or_create(user_id, now)
    books = ledger.balances(ledger.user_account(user_id))

    def bal(book: str) -> int:
        item = books.get(book)
        return int(item.balance) if item else 0

    credit = books.get(ledger.CREDIT)
    return WalletSummary(
        bnpl_status=user.bnpl_status,
        credit_limit_fen=int(credit.limit or 0) if credit else 0,
        credit_used_fen=bal(ledger.CREDIT),
        cash_fen=bal(ledger.CASH),
        points=bal(ledger.POINTS),
        points_held=bal(ledger.POINTS_HELD),
        points_owed=-bal(ledger.POINTS_OWED),
        coupons_available=sum(counter(user_id, now) for counter in COUPON_COUNTERS),
    )


# --- entries ------------------------------------------------------------------------------


def list_entries(user_id: str, *, kind: str | None, limit: int, cursor: str | None) -> tuple[list[Entry], str | None]:
    """The user's wallet entries, newest first; `kind` matches a book or an event kind."""
    scope = f"wallet-entries:{user_id}:{kind or ''}"
    condition: Condition | None = None
    if kind:
        condition = (Entry.book == kind) | (Entry.event_kind == kind)
    result = Entry.by_time.query(
        ledger.user_account(user_id),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=pagination.decode(cursor, scope),
        filter_condition=condition,
    )
    items = list(result)
    return items, pagination.encode(result.last_evaluated_key, scope)


# --- coupons ------------------------------------------------------------------------------


def coupon_status(coupon: Coupon, now: datetime) -> str:
    """`expired` is computed from the clock: an unused coupon past its expiry."""
    if coupon.status == AVAILABLE and coupon.expires_at <= iso(now):
        return EXPIRED
    return str(coupon.status)


def _status_condition(status: str, now: datetime) -> Condition:
    at = iso(now)
    condition: Condition = Coupon.status == status
    if status == AVAILABLE:
        condition = (Coupon.status == AVAILABLE) & (Coupon.expires_at > at)
    elif status == EXPIRED:
        condition = (Coupon.status == AVAILABLE) & (Coupon.expires_at <= at)
    return condition


def list_coupons(
    user_id: str, *, status: str | None, limit: int, cursor: str | None, now: datetime
) -> tuple[list[Coupon], str | None]:
    """The user's coupons (by id), optionally only those with one (computed) status."""
    scope = f"wallet-coupons:{user_id}:{status or ''}"
    result = Coupon.query(
        user_id,
        limit=limit,
        last_evaluated_key=pagination.decode(cursor, scope),
        filter_condition=_status_condition(status, now) if status else None,
    )
    items = list(result)
    return items, pagination.encode(result.last_evaluated_key, scope)


def count_available_coupons(user_id: str, now: datetime) -> int:
    return sum(1 for _ in Coupon.query(user_id, filter_condition=_status_condition(AVAILABLE, now)))


COUPON_COUNTERS.append(count_available_coupons)
