"""The daily payout cut-off, in China time (UTC+8, no daylight saving).

A merchant's payable settled before a day's cut-off is paid out by the first
`run_payouts` after it (T+1). `rules.payout_cutoff_hour_cn` is the hour of the China-time
day the cut-off falls on (0: midnight in Beijing).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .clock import CHINA
from .config import settings

DAY = timedelta(days=1)


def last_cutoff(now: datetime) -> datetime:
    """The latest cut-off at or before `now` (UTC)."""
    local = now.astimezone(CHINA)
    cut = local.replace(hour=settings().rules.payout_cutoff_hour_cn, minute=0, second=0, microsecond=0)
    if cut > local:
        cut -= DAY
    return cut.astimezone(UTC)


def next_cutoff(at: datetime) -> datetime:
    """The first cut-off strictly after `at`: what a payable credited at `at` waits for."""
    return last_cutoff(at) + DAY


def china_day(cut: datetime) -> str:
    """The China-time date of a cut-off, e.g. "20261126"."""
    return cut.astimezone(CHINA).strftime("%Y%m%d")
