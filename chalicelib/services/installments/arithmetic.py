"""The money rules of installments, pure (no I/O, no clock, no settings).

Every amount is integer fen. A schedule is a tuple of `Part`s whose amounts always sum to
principal + fee exactly: each part is ⌊total / n⌋ with the remainder fen on part 1, and the
fee is split the same way (each part's principal is its amount less its fee share).
"""

from __future__ import annotations

import hashlib
import json
from calendar import monthrange
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from ...clock import CHINA
from ...money import Fen

BPS = 10_000
# Part 1 is due 7 days after receipt; the IRR counts that first period in months of this length.
_DAYS_PER_MONTH = 365 / 12


class PartStatus(StrEnum):
    SCHEDULED = "scheduled"
    DUE = "due"
    PAID = "paid"
    OVERDUE = "overdue"
    WAIVED = "waived"
    REFUNDED = "refunded"


# A part in one of these still owes its amount.
UNPAID = frozenset({PartStatus.SCHEDULED, PartStatus.DUE, PartStatus.OVERDUE})


@dataclass(frozen=True)
class Part:
    seq: int  # 1-based
    principal_fen: Fen
    fee_fen: Fen
    status: PartStatus = PartStatus.SCHEDULED

    @property
    def amount_fen(self) -> Fen:
        return self.principal_fen + self.fee_fen

    @property
    def unpaid(self) -> bool:
        return self.status in UNPAID


def fee_fen(principal_fen: Fen, rate_bps: int) -> Fen:
    """The plan's total fee: principal × rate, rounded half up to the fen."""
    if principal_fen < 0 or rate_bps < 0:
        raise ValueError("principal and rate are never negative")
    return (principal_fen * rate_bps * 2 + BPS) // (2 * BPS)


def split(total_fen: Fen, n: int) -> list[Fen]:
    """`n` shares of `total_fen`: each ⌊total / n⌋, the remainder fen on the first."""
    if n < 1 or total_fen < 0:
        raise ValueError("a split needs n ≥ 1 and a total ≥ 0")
    share, remainder = divmod(total_fen, n)
    return [share + remainder] + [share] * (n - 1)


def min_principal_fen(n: int) -> Fen:
    """The smallest principal for which no part's principal share can go negative.

    Part 1 carries the remainders of both splits; with principal ≥ n(n-1) fen its principal
    share stays ≥ 0 whatever the fee (the eligible minimum, ¥100, is far above 132 fen).
    """
    return n * (n - 1)


def schedule(principal_fen: Fen, fee: Fen, n: int) -> tuple[Part, ...]:
    """The parts of a plan: amounts split from principal + fee, fee shares split from the fee."""
    if principal_fen < min_principal_fen(n):
        raise ValueError(f"principal below {min_principal_fen(n)} fen cannot be split in {n}")
    amounts = split(principal_fen + fee, n)
    fees = split(fee, n)
    return tuple(
        Part(seq=i + 1, principal_fen=a - f, fee_fen=f) for i, (a, f) in enumerate(zip(amounts, fees, strict=True))
    )


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later in China time, clamped to the month's end (31 Jan → 28/29 Feb)."""
    local = moment.astimezone(CHINA)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(moment.tzinfo or UTC)


def due_dates(first_due: datetime, n: int) -> list[datetime]:
    """Part 1 on `first_due`; each next part one calendar month after part 1's date."""
    return [add_months(first_due, k) for k in range(n)]


def apr_bps(principal_fen: Fen, amounts_fen: Sequence[Fen], first_due_days: int = 7) -> int:
    """The annualised rate (年化利率) in basis points: 12 × the monthly internal rate of return.

    Cash flows: the principal lent at receipt, part 1 paid `first_due_days` later, each next
    part one month after the previous one. Solved by bisection (the present value falls as
    the rate grows), rounded half up to the basis point. A plan without fee is 0.
    """
    if sum(amounts_fen) <= principal_fen:
        return 0
    first = first_due_days / _DAYS_PER_MONTH
    times = [first + k for k in range(len(amounts_fen))]

    def present_value(rate: float) -> float:
        return float(sum(a / (1 + rate) ** t for a, t in zip(amounts_fen, times, strict=True))) - principal_fen

    low, high = 0.0, 1.0
    while present_value(high) > 0:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if present_value(mid) > 0:
            low = mid
        else:
            high = mid
    return int(12 * BPS * (low + high) / 2 + 0.5)


def schedule_checksum(*, principal_fen: Fen, parts: Sequence[Part], fee_payer: str, apr: int) -> str:
    """A digest of everything a quote shows: a checkout carrying another one is `plan_changed`."""
    shown = {
        "principal_fen": principal_fen,
        "parts": [[p.principal_fen, p.fee_fen] for p in parts],
        "fee_payer": fee_payer,
        "apr_bps": apr,
    }
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class RefundOutcome:
    parts: tuple[Part, ...]
    principal_reduced_fen: Fen  # taken off unpaid parts (credit no longer owed)
    fee_reduced_fen: Fen  # the fee share of the refunded principal, no longer owed
    refund_to_payer_fen: Fen  # what exceeded the unpaid rest: money back to the payer


def fee_share(fee: Fen, principal: Fen, taken: Fen) -> Fen:
    """The fee share of `taken` out of a part's `principal`, half up (all of it when all is taken)."""
    if taken >= principal:
        return fee
    return min(fee, (fee * taken * 2 + principal) // (2 * principal))


def apply_refund(parts: Sequence[Part], refund_principal_fen: Fen) -> RefundOutcome:
    """A refund of `refund_principal_fen` of the price: unpaid parts shrink from the last backwards.

    Each part loses principal and the matching fee share; a part brought to zero is `refunded`.
    What exceeds the unpaid principal goes back to the payer (it was paid already). A full
    refund before any part is paid therefore cancels the plan, fee included.
    """
    if refund_principal_fen < 0:
        raise ValueError("a refund is never negative")
    left = refund_principal_fen
    fee_cut_total = 0
    result = list(parts)
    for index in range(len(result) - 1, -1, -1):
        part = result[index]
        if left == 0:
            break
        if not part.unpaid or part.principal_fen == 0:
            continue
        taken = min(left, part.principal_fen)
        fee_cut = fee_share(part.fee_fen, part.principal_fen, taken)
        shrunk = replace(part, principal_fen=part.principal_fen - taken, fee_fen=part.fee_fen - fee_cut)
        if shrunk.amount_fen == 0:
            shrunk = replace(shrunk, status=PartStatus.REFUNDED)
        result[index] = shrunk
        left -= taken
        fee_cut_total += fee_cut
    return RefundOutcome(
        parts=tuple(result),
        principal_reduced_fen=refund_principal_fen - left,
        fee_reduced_fen=fee_cut_total,
        refund_to_payer_fen=left,
    )


def month_begun(seq: int, dues: Sequence[datetime], now: datetime) -> bool:
    """Part `seq`'s month begins when the previous part falls due (part 1's at receipt)."""
    return seq == 1 or now >= dues[seq - 2]


@dataclass(frozen=True)
class Payoff:
    payoff_fen: Fen  # what paying everything now costs
    fee_waived_fen: Fen  # the fee of the parts whose month has not begun
    parts: tuple[Part, ...]  # after the payoff: each unpaid part paid (its waived fee zeroed)


def payoff(parts: Sequence[Part], dues: Sequence[datetime], now: datetime) -> Payoff:
    """Paying everything left now: the fee share of each part whose month has not begun is waived."""
    owed = waived = 0
    after: list[Part] = []
    for part in parts:
        if not part.unpaid:
            after.append(part)
            continue
        if month_begun(part.seq, dues, now):
            owed += part.amount_fen
            after.append(replace(part, status=PartStatus.PAID))
        else:
            owed += part.principal_fen
            waived += part.fee_fen
            after.append(replace(part, fee_fen=0, status=PartStatus.PAID))
    return Payoff(payoff_fen=owed, fee_waived_fen=waived, parts=tuple(after))
