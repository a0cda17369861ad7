"""Risk statistics: a decision adds to one of 64 shard items of its day, and a read of any day
range is one BatchGet — today's shards and one roll-up item per closed day (issue 29)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from chalicelib.db import Tx
from chalicelib.models.risk import STATS_PART, RiskStats
from chalicelib.services.risk import decide, stats
from tests.support.shopping import dynamodb_calls

Rules = Callable[..., None]
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _decide(at: datetime, refs: range, outcome: str = "approve", rule_ids: tuple[str, ...] = ()) -> None:
    for i in refs:
        tx = Tx()
        decide.add_stats(tx, at, f"o-stats-{i}", outcome, list(rule_ids))
        tx.commit()


def _read(days: int, now: datetime = NOW) -> tuple[list[stats.DayStats], int]:
    with dynamodb_calls() as calls:
        got = stats.daily(days, now)
    return got, sum(calls.values())


def test_a_read_is_one_batch_get_whatever_the_day_range_at_64_shards(aws: None, rules: Rules) -> None:
    """Regression: the reader queried every shard of every day (1,664 queries for 26 days)."""
    rules(risk_stats_shards=64, risk_stats_shards_previous=8)
    _decide(NOW - timedelta(days=3), range(40), rule_ids=("user_orders_1h",))
    _decide(NOW, range(30))
    _decide(NOW, range(30, 33), "decline", ("blocked",))
    first, _ = _read(31)  # rolls up the closed days
    for days in (1, 7, 26, 31):
        got, calls = _read(days)
        assert (got, calls) == (first[-days:], 1), days
    today, earlier = first[-1], first[-4]
    assert (today.outcomes, today.rules, today.decisions) == ({"approve": 30, "decline": 3}, {"blocked": 3}, 33)
    assert today.rate_bps("decline") == 909
    assert (earlier.day, earlier.outcomes, earlier.rules) == ("2026-12-04", {"approve": 40}, {"user_orders_1h": 40})
    assert [d.decisions for d in first].count(0) == 29


def test_a_closed_day_is_rolled_up_once_into_one_item(aws: None, rules: Rules) -> None:
    rules(risk_stats_shards=64, risk_stats_shards_previous=64)
    day = NOW - timedelta(days=1)
    _decide(day, range(100), rule_ids=("user_orders_1h",))
    _decide(day, range(5), "review_approved")
    first, calls = _read(2)
    assert calls <= 3, calls  # today and yesterday's roll-up; yesterday's 64 shards; the roll-up's write
    rolled = RiskStats.get("stats-day#2026-12-06", STATS_PART, consistent_read=True)
    assert rolled.rolled_at
    assert rolled.counts == {"outcome#approve": 100, "rule#user_orders_1h": 100, "outcome#review_approved": 5}
    assert first[0].outcomes == {"approve": 100} and first[0].reviews == {"approved": 5}
    again, calls = _read(2)
    assert (again, calls) == (first, 1)
    stats._roll_up(["2026-12-06"], NOW)  # a concurrent first reader writes the same sums
    assert _read(2)[0] == first


def test_a_day_is_read_from_its_shards_until_an_hour_past_its_end(aws: None, rules: Rules) -> None:
    """A decision timed before midnight may commit after it: the day stays open an hour."""
    rules(risk_stats_shards=64, risk_stats_shards_previous=64)
    midnight = datetime(2026, 12, 7, tzinfo=UTC)
    _decide(midnight - timedelta(seconds=1), range(3))
    soon = midnight + timedelta(minutes=20)
    assert _read(2, soon)[0][0].outcomes == {"approve": 3}
    _decide(midnight - timedelta(microseconds=1), range(3, 4))  # committed at 00:20 or so
    assert _read(2, soon)[0][0].outcomes == {"approve": 4}
    assert not stats.is_closed("2026-12-06", midnight + timedelta(minutes=59))
    later = midnight + stats.CLOSE_AFTER
    assert stats.is_closed("2026-12-06", later)
    assert _read(2, later)[0][0].outcomes == {"approve": 4}
    assert RiskStats.count("stats-day#2026-12-06") == 1


def test_a_decision_writes_one_stats_item(aws: None, rules: Rules) -> None:
    rules(risk_stats_shards=64, risk_stats_shards_previous=64)
    tx = Tx()
    decide.add_stats(tx, NOW, "o-one", "review", ["a", "b", "a"])
    assert len(tx) == 1
    tx.commit()
    assert _read(1)[0][0].rules == {"a": 1, "b": 1}


def test_the_hourly_job_rolls_up_each_day_once_it_closes(aws: None, rules: Rules) -> None:
    """`roll_up_risk_stats` (hourly): a read never pays for a closed day's 64 shards, even for
    a day nobody read."""
    from chalicelib import schedules

    rules(risk_stats_shards=64, risk_stats_shards_previous=8)
    midnight = datetime(2026, 12, 7, tzinfo=UTC)
    _decide(midnight - timedelta(hours=2), range(7))
    assert schedules.run("roll_up_risk_stats", midnight + timedelta(minutes=30))["processed"] == 1  # the 5th only
    assert schedules.run("roll_up_risk_stats", midnight + stats.CLOSE_AFTER)["processed"] == 1  # the 6th, closed
    assert schedules.run("roll_up_risk_stats", midnight + stats.CLOSE_AFTER)["processed"] == 0  # once
    got, calls = _read(2, midnight + stats.CLOSE_AFTER)
    assert (got[0].day, got[0].outcomes, calls) == ("2026-12-06", {"approve": 7}, 1)
