"""reconcile_ledger: recompute what was touched since the last run; drift is reported."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib import ledger, schedules
from chalicelib.clock import clock, iso
from chalicelib.config import settings
from chalicelib.models.jobstate import JobState
from chalicelib.models.ledger import Balance, Entry
from chalicelib.services import reconcile
from tests.conftest import Api
from tests.support.wallet import earn, refund


def run() -> dict[str, object]:
    return schedules.run("reconcile_ledger", clock.now())


def catch_up() -> dict[str, int]:
    """Run until the job reaches now (each run is bounded); the runs' counts summed."""
    total = {"events": 0, "accounts": 0, "drift": 0}
    for _ in range(10):
        result = run()
        total = {k: v + int(result[k]) for k, v in total.items()}  # type: ignore[call-overload]
        if result["complete"]:
            return total
    raise AssertionError("reconcile never caught up")


def test_a_clean_ledger_has_no_drift(api: Api, activated_user: str) -> None:
    order = earn("u-clean", 10_000)
    refund(order, 5_000)
    result = run()
    assert result["drift"] == 0
    assert result["events"] == 2 and result["accounts"] == 1
    assert JobState.get("reconcile_ledger").watermark == iso(clock.now())


def test_a_stored_balance_that_entries_do_not_explain_is_drift() -> None:
    earn("u-tampered", 10_000)
    Balance.get(ledger.user_account("u-tampered"), ledger.POINTS).update(actions=[Balance.balance.add(7)])
    result = reconcile.check(reconcile.touched_since(clock.now() - timedelta(hours=1), clock.now()))
    assert result["balance_drift"] == [{"account": "user#u-tampered", "book": "points", "stored": 107, "derived": 100}]
    assert result["event_drift"] == []
    assert run()["drift"] == 1
    # Reported, never fixed.
    assert Balance.get(ledger.user_account("u-tampered"), ledger.POINTS).balance == 107


def test_an_event_whose_legs_do_not_sum_to_zero_is_drift() -> None:
    order = earn("u-unbalanced", 10_000)
    event = f"order:{order.order_id}:points_earned"
    leg = Entry.get(ledger.user_account("u-unbalanced"), f"{event}#points")
    leg.update(actions=[Entry.amount.set(101)])
    Balance.get(ledger.user_account("u-unbalanced"), ledger.POINTS).update(actions=[Balance.balance.set(101)])
    result = reconcile.check(reconcile.touched_since(clock.now(), clock.now()))
    assert result["balance_drift"] == []
    assert result["event_drift"] == [{"event_id": event, "sum": 1, "legs_found": 2, "legs_expected": [2]}]


def test_a_missing_leg_is_drift_on_the_event_and_the_balance() -> None:
    order = earn("u-missing", 10_000)
    event = f"order:{order.order_id}:points_earned"
    Entry.get(ledger.physical_account(ledger.PLATFORM, event), f"{event}#points_issued").delete()
    earn("u-missing", 100)  # the account is touched again
    Entry.get(ledger.user_account("u-missing"), f"{event}#points").delete()
    result = reconcile.check(reconcile.touched_since(clock.now(), clock.now()))
    assert [d["event_id"] for d in result["event_drift"]] == []  # no leg of it left to find
    assert result["balance_drift"] == [{"account": "user#u-missing", "book": "points", "stored": 101, "derived": 1}]


def test_a_leg_count_mismatch_is_drift() -> None:
    order = earn("u-leg", 10_000)
    event = f"order:{order.order_id}:points_earned"
    platform = ledger.physical_account(ledger.PLATFORM, event)
    Entry.get(platform, f"{event}#points_issued").delete()
    result = reconcile.check(reconcile.touched_since(clock.now(), clock.now()))
    assert result["event_drift"] == [{"event_id": event, "sum": 100, "legs_found": 1, "legs_expected": [2]}]


def test_each_run_walks_only_what_was_touched_since_the_last() -> None:
    earn("u-old", 10_000)
    clock.advance(3 * 3600)  # past the hour of overlap each run re-walks
    assert run()["events"] == 1
    clock.advance(2 * 86400)
    Balance.get(ledger.user_account("u-old"), ledger.POINTS).update(actions=[Balance.balance.add(1)])
    earn("u-new", 1_000)
    first = catch_up()
    assert (first["events"], first["accounts"], first["drift"]) == (1, 1, 0)  # u-old was not touched
    clock.advance(3600)
    earn("u-old", 100)
    assert run()["drift"] == 1


def test_the_first_run_looks_back_a_configured_while() -> None:
    earn("u-early", 1_000)
    clock.advance(settings().rules.reconcile_first_lookback_seconds + 7200)
    assert run()["events"] == 0


def test_a_run_that_fell_behind_catches_up_over_bounded_runs(rules: Any) -> None:
    """A clock moved weeks (or a job stalled): each run covers at most the configured hours
    (one `by_hour` query per shard per hour), and the runs together miss nothing."""
    run()
    rules(reconcile_max_hours_per_run=2)
    hours = settings().rules.reconcile_max_hours_per_run
    clock.advance(3 * hours * 3600)
    earn("u-late", 1_000)  # posted now: only the run that reaches now sees it
    Balance.get(ledger.user_account("u-late"), ledger.POINTS).update(actions=[Balance.balance.add(3)])
    results = [run()]
    while not results[-1]["complete"]:
        results.append(run())
        assert len(results) < 10
    assert len(results) >= 3 and [r["drift"] for r in results[:-1]] == [0] * (len(results) - 1)
    assert results[-1]["drift"] == 1 and results[-1]["events"] == 1
    assert JobState.get("reconcile_ledger").watermark == iso(clock.now())


def _strip_day_bucket(event_id: str, *accounts: str) -> None:
    """Make an event's legs look as the release before `by_day` wrote them."""
    for account in accounts:
        for leg in Entry.query(account):
            if leg.event_id == event_id:
                leg.update(actions=[Entry.day_bucket.remove()])


def test_entries_posted_before_the_day_index_are_walked_by_hour_and_none_twice(rules: Any) -> None:
    """Migration: entries written before `LEDGER_BY_DAY_SINCE` lack `day_bucket`, those after
    carry it (and `hour_bucket`, still written); one walk across the switch finds each once."""
    old = earn("u-before", 10_000)
    event = f"order:{old.order_id}:points_earned"
    _strip_day_bucket(event, ledger.user_account("u-before"), ledger.physical_account(ledger.PLATFORM, event))
    switch = clock.now() + timedelta(minutes=30)
    clock.advance(3600)
    new = earn("u-after", 10_000)  # in the hour after the switch's: both indexes hold it
    clock.advance(2 * 86400)
    newest = earn("u-later", 10_000)
    events = sorted(f"order:{order.order_id}:points_earned" for order in (old, new, newest))

    def walk() -> list[str]:
        touched = reconcile.touched_since(switch - timedelta(hours=2), clock.now())
        assert reconcile.check(touched)["event_drift"] == []
        return sorted(entry_id.rsplit("#", 1)[0] for ids in touched.values() for entry_id in ids)

    rules(ledger_by_day_since=iso(switch))
    assert walk() == sorted(events * 2)  # two legs of each event, each leg once
    # The switch is what finds them: with the day index alone, the old entries are missed.
    rules(ledger_by_day_since="1970-01-01T00:00:00.000000Z")
    assert walk() == sorted([e for e in events if e != event] * 2)


def test_a_run_costs_a_query_per_shard_and_day_however_long_ago(rules: Any) -> None:
    """Four weeks behind: each run covers at most the configured hours and queries each
    `by_day` shard of each UTC day it touches once (by the hour it was 24 times that)."""
    rules(reconcile_max_hours_per_run=168)
    run()
    clock.advance(28 * 86400)
    earn("u-weeks", 1_000)
    queries: list[str] = []
    original = Entry.by_day.query

    def counting(bucket: str, *args: Any, **kwargs: Any) -> Any:
        queries.append(bucket)
        return original(bucket, *args, **kwargs)

    Entry.by_day.query = counting  # type: ignore[method-assign]
    try:
        results = [run()]
        while not results[-1]["complete"]:
            results.append(run())
    finally:
        Entry.by_day.query = original  # type: ignore[method-assign]
    shards = len(ledger.day_buckets(clock.now()))
    assert len(results) == 5  # 28 days and the hour of overlap, 167 new hours a run
    assert len(queries) <= len(results) * 8 * shards  # 168 hours touch at most 8 UTC days
    assert len(set(queries)) <= 30 * shards < 28 * 24 * shards
    assert sum(int(r["events"]) for r in results) == 1 and sum(int(r["drift"]) for r in results) == 0


def test_a_run_leaves_the_last_minutes_to_the_next_so_a_live_event_is_not_drift(rules: Any) -> None:
    """An event committing as the run walks: the `by_day` index (eventually consistent)
    shows one leg and not yet the other. Without the margin that is a false drift; with it
    the event is the next run's, by which time the index holds both legs."""
    run()
    clock.advance(3600)
    order = earn("u-live", 10_000)
    event = f"order:{order.order_id}:points_earned"
    platform = ledger.physical_account(ledger.PLATFORM, event)
    lagging = [leg for leg in Entry.query(platform) if leg.event_id == event]
    buckets = {leg.entry_id: leg.day_bucket for leg in lagging}
    _strip_day_bucket(event, platform)  # the platform leg is not in the index yet

    def index_catches_up() -> None:
        for leg in Entry.query(platform):
            if leg.entry_id in buckets:
                leg.update(actions=[Entry.day_bucket.set(buckets[leg.entry_id])])

    rules(reconcile_margin_seconds=0)
    assert reconcile.check(reconcile.touched_since(clock.now(), clock.now()))["event_drift"] != []  # false drift

    rules(reconcile_margin_seconds=300)
    assert run()["drift"] == 0  # the run stops 5 minutes before now: the event is not its
    index_catches_up()
    clock.advance(600)
    result = run()
    assert (result["drift"], result["events"]) == (0, 1)
