"""Decision rates by day (UTC), outcome and rule, read in one BatchGet whatever the shard count
and the day range.

Decisions add to one `stats#<day>#<shard>` item each (`decide.add_stats`: the write path stays
spread over `RISK_STATS_SHARDS` items). A day is *closed* `CLOSE_AFTER` past its end: no
decision or review timed before midnight is still being written. The first read of a closed
day sums its shards into one roll-up item, `stats-day#<day>`, and every later read takes that
item instead. So a read is today's shards (every shard number under the current and the
previous count) plus one item per closed day: ≤ 100 keys, one BatchGet, up to 64 shards and 31
days; a closed day not yet rolled up costs its shards once more, on the read that rolls it up.

The roll-up is idempotent and race-safe: a closed day's shards no longer change, so readers
that roll it up at the same time write the same sums (unconditionally: the last one wins with
the same value); a lost roll-up write only means the next read rolls it up again. The hourly
job `roll_up_risk_stats` rolls up each day once it closes, so a read rarely pays for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pynamodb.exceptions import PynamoDBException

from ... import batch, errors, sharding
from ...clock import iso, parse_iso
from ...config import settings
from ...db import Tx
from ...models.risk import OUTCOMES, STATS_PART, RiskStats, stats_counter
from ...observability import logger
from .signals import day_of

# Past a day's end, what may still add to it: a confirmation or review decided with a "now"
# before midnight, committed at most a Lambda's 15 minutes later (a sweep), with margin.
CLOSE_AFTER = timedelta(hours=1)
ROLL_UP_BACK = 2  # days the hourly job looks back: yesterday closes an hour into today
ROLL_UP_PER_TX = 100  # DynamoDB's most items in one transaction


@dataclass
class DayStats:
    day: str
    outcomes: dict[str, int] = field(default_factory=dict)  # approve / review / decline
    reviews: dict[str, int] = field(default_factory=dict)  # how held orders ended
    rules: dict[str, int] = field(default_factory=dict)

    @property
    def decisions(self) -> int:
        return sum(self.outcomes.get(o, 0) for o in OUTCOMES)

    def rate_bps(self, outcome: str) -> int:
        total = self.decisions
        return self.outcomes.get(outcome, 0) * 10000 // total if total else 0


def roll_up_key(day: str) -> str:
    return f"stats-day#{day}"


def shard_keys(day: str) -> list[str]:
    rules = settings().rules
    shards = sharding.read_range(rules.risk_stats_shards, rules.risk_stats_shards_previous)
    return [f"stats#{day}#{shard:02d}" for shard in shards]


def is_closed(day: str, now: datetime) -> bool:
    return parse_iso(f"{day}T00:00:00.000000Z") + timedelta(days=1) + CLOSE_AFTER <= now


def daily(days: int, now: datetime) -> list[DayStats]:
    """The last `days` days, oldest first (today included)."""
    wanted = [day_of(now - timedelta(days=back)) for back in range(days - 1, -1, -1)]
    closed = [d for d in wanted if is_closed(d, now)]
    open_days = [d for d in wanted if d not in closed]
    counts = _read({roll_up_key(d): d for d in closed} | {k: d for d in open_days for k in shard_keys(d)})
    missing = [d for d in closed if d not in counts]
    if missing:
        counts |= _roll_up(missing, now)
    return [_day_stats(d, counts.get(d, {})) for d in wanted]


def roll_up_closed_days(now: datetime) -> dict[str, int]:
    """The hourly job `roll_up_risk_stats`: roll up the last `ROLL_UP_BACK` days that are closed
    and not rolled up yet, so that a stats read is one BatchGet of roll-ups and today's shards
    even for a day nobody read while it was the latest (one BatchGet when all are rolled up)."""
    days = [day_of(now - timedelta(days=back)) for back in range(ROLL_UP_BACK, 0, -1)]
    closed = [d for d in days if is_closed(d, now)]
    have = _read({roll_up_key(d): d for d in closed})
    missing = [d for d in closed if d not in have]
    if missing:
        _roll_up(missing, now)
    return {"processed": len(missing)}


def _read(keys: dict[str, str]) -> dict[str, dict[str, int]]:
    """The counts of the items at `keys` (item key → its day), summed by day; a day none of
    whose items exists is left out."""
    found = batch.get_many([(RiskStats, key, STATS_PART) for key in keys])
    out: dict[str, dict[str, int]] = {}
    for key, item in zip(keys, found, strict=True):
        if isinstance(item, RiskStats):
            _add(out.setdefault(keys[key], {}), item.counts.items())
    return out


def _add(into: dict[str, int], counts: Iterable[tuple[str, int]]) -> None:
    for name, n in counts:
        into[name] = into.get(name, 0) + n


def _roll_up(days: list[str], now: datetime) -> dict[str, dict[str, int]]:
    """Sum each closed day's shards and keep the sum as its roll-up item (one transaction)."""
    counts = _read({k: d for d in days for k in shard_keys(d)})
    for start in range(0, len(days), ROLL_UP_PER_TX):
        chunk = days[start : start + ROLL_UP_PER_TX]
        tx = Tx()
        for day in chunk:
            sums = counts.setdefault(day, {})
            actions = [RiskStats.rolled_at.set(iso(now)), *(stats_counter(n).set(v) for n, v in sorted(sums.items()))]
            tx.update(RiskStats(roll_up_key(day), STATS_PART), actions)
        try:
            tx.commit()
        except (errors.DomainError, PynamoDBException) as exc:  # a concurrent reader's same roll-up: next read retries
            logger.warning("risk stats roll-up not written", extra={"error": type(exc).__name__, "days": len(chunk)})
    for day in days:
        counts.setdefault(day, {})
    return counts


def _day_stats(day: str, counts: dict[str, int]) -> DayStats:
    stats = DayStats(day)
    for counter, n in counts.items():
        kind, _, name = counter.partition("#")
        if kind == "outcome" and name.startswith("review_"):
            ended = name.removeprefix("review_")
            stats.reviews[ended] = stats.reviews.get(ended, 0) + n
        elif kind == "outcome":
            stats.outcomes[name] = stats.outcomes.get(name, 0) + n
        elif kind == "rule":
            stats.rules[name] = stats.rules.get(name, 0) + n
    return stats
