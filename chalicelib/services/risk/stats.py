"""Decision rates by day (UTC), outcome and rule, from the counters decisions add to
(`decide.add_stats`: `stats#<day>#<shard>` items, read by key, every shard
under the current and the previous `RISK_STATS_SHARDS`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ... import sharding
from ...config import settings
from ...models.risk import OUTCOMES, RiskCounter
from .signals import day_of


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


def daily(days: int, now: datetime) -> list[DayStats]:
    """The last `days` days, oldest first (today included)."""
    out = []
    rules = settings().rules
    shards = sharding.read_range(rules.risk_stats_shards, rules.risk_stats_shards_previous)
    for back in range(days - 1, -1, -1):
        day = day_of(now - timedelta(days=back))
        stats = DayStats(day)
        for shard in shards:
            for item in RiskCounter.query(f"stats#{day}#{shard:02d}"):
                kind, _, name = item.part.partition("#")
                n = int(item.n or 0)
                if kind == "outcome" and name.startswith("review_"):
                    ended = name.removeprefix("review_")
                    stats.reviews[ended] = stats.reviews.get(ended, 0) + n
                elif kind == "outcome":
                    stats.outcomes[name] = stats.outcomes.get(name, 0) + n
                elif kind == "rule":
                    stats.rules[name] = stats.rules.get(name, 0) + n
        out.append(stats)
    return out
