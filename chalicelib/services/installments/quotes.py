"""Quotes: the plans offered for an amount, with exactly what each will charge.

A plan's fee is the stage's rate of the principal, half up to the fen. On a 免息 plan (the
product lists the part count in `interest_free_parts`) the merchant pays that fee out of its
settlement: the consumer's parts carry none and its `apr_bps` is 0. The `schedule_checksum`
digests what the quote shows: a checkout carrying a stale one is a 409 `plan_changed`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ... import errors
from ...config import settings
from . import arithmetic as ar
from .plans import fee_rates

CONSUMER = "consumer"
MERCHANT = "merchant"
SINGLE = "single"
INSTALLMENTS = "installments"
QUOTE_ERRORS = errors.raises(unprocessable=["installments_not_eligible", "unknown_plan"])


@dataclass(frozen=True)
class Quote:
    parts: int
    principal_fen: int
    fee_fen: int  # the plan's whole fee, whoever pays it
    fee_payer: str  # CONSUMER | MERCHANT
    apr_bps: int
    schedule: tuple[ar.Part, ...]  # what the consumer pays, part by part
    schedule_checksum: str

    @property
    def plan(self) -> str:
        return SINGLE if self.parts == 1 else INSTALLMENTS

    @property
    def consumer_fee_fen(self) -> int:
        return self.fee_fen if self.fee_payer == CONSUMER else 0

    @property
    def merchant_fee_fen(self) -> int:
        return self.fee_fen if self.fee_payer == MERCHANT else 0


def eligible(principal_fen: int) -> bool:
    """先用后付 orders of at least `rules.installment_min_fen` may be paid in parts."""
    return principal_fen >= settings().rules.installment_min_fen


def quote(principal_fen: int, parts: int, interest_free_parts: Collection[int] = ()) -> Quote:
    """One plan for `principal_fen` (parts 1: the single payment, no fee)."""
    if parts == 1:
        single = ar.schedule(principal_fen, 0, 1)
        checksum = ar.schedule_checksum(principal_fen=principal_fen, parts=single, fee_payer=CONSUMER, apr=0)
        return Quote(1, principal_fen, 0, CONSUMER, 0, single, checksum)
    rates = fee_rates()
    if parts not in rates:
        raise errors.unprocessable(
            "unknown_plan",
            f"PayLater offers installments of {sorted(rates)} parts",
            [errors.FieldError("installments.parts", "not an offered plan")],
        )
    if not eligible(principal_fen):
        raise errors.unprocessable(
            "installments_not_eligible",
            f"installments need an order of at least {settings().rules.installment_min_fen} fen",
        )
    fee = ar.fee_fen(principal_fen, rates[parts])
    payer = MERCHANT if parts in interest_free_parts else CONSUMER
    consumer_fee = fee if payer == CONSUMER else 0
    schedule = ar.schedule(principal_fen, consumer_fee, parts)
    apr = ar.apr_bps(principal_fen, [p.amount_fen for p in schedule])
    checksum = ar.schedule_checksum(principal_fen=principal_fen, parts=schedule, fee_payer=payer, apr=apr)
    return Quote(parts, principal_fen, fee, payer, apr, schedule, checksum)


def quotes(principal_fen: int, interest_free_parts: Collection[int] = ()) -> list[Quote]:
    """Every plan offered for `principal_fen`: the single payment, then each installment plan
    when the amount is eligible."""
    offered: Sequence[int] = sorted(fee_rates()) if eligible(principal_fen) else []
    return [quote(principal_fen, 1)] + [quote(principal_fen, n, interest_free_parts) for n in offered]
