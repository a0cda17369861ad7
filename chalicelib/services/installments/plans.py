"""The installment plans PayLater offers: part counts and their fee rates (stage settings)."""

from __future__ import annotations

from functools import lru_cache

from ...config import settings


def fee_rates() -> dict[int, int]:
    """{parts: fee rate in basis points}, from `rules.installment_plans` ("3:230,6:450,12:750")."""
    return _parse(settings().rules.installment_plans)


@lru_cache(maxsize=4)
def _parse(text: str) -> dict[int, int]:
    rates: dict[int, int] = {}
    for pair in text.split(","):
        parts, bps = pair.split(":")
        rates[int(parts)] = int(bps)
    return rates


def offered() -> frozenset[int]:
    """The part counts a plan may have."""
    return frozenset(fee_rates())
