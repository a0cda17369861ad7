"""The wallet summary: credit, cash, points and 先用后付 status, from stored balances."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .. import ledger
from ..config import settings
from . import accounts

# Other parts of the story (coupons) register a counter of what the user can use now.
COUPON_COUNTERS: list[Callable[[str, datetime], int]] = []


@dataclass(frozen=True)
class WalletSummary:
    bnpl_status: str
    credit_limit_fen: int
    credit_used_fen: int
    cash_fen: int
    points: int
    points_held: int
    coupons_available: int

    @property
    def credit_available_fen(self) -> int:
        return max(self.credit_limit_fen - self.credit_used_fen, 0)

    @property
    def redeemable_fen(self) -> int:
        return self.points // settings().rules.points_per_yuan_redeemed * 100


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
        coupons_available=sum(counter(user_id, now) for counter in COUPON_COUNTERS),
    )
