"""reconcile_ledger: recompute what was touched since the last run; drift is reported."""

from __future__ import annotations

from datetime import timedelta

from chalicelib import ledger, schedules
from chalicelib.clock import clock, iso
from chalicelib.config import settings
from chalicelib.models.jobstate import JobState
from chalicelib.models.ledger import Balance, Entry
from chalicelib.services import reconcile
from tests.conftest import Api
from tests.wallet_support import earn, refund


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


def test_a_run_that_fell_behind_catches_up_over_bounded_runs() -> None:
    """A clock moved weeks (or a job stalled): each run covers at most the configured hours
    (one `by_hour` query per shard per hour), and the runs together miss nothing."""
    run()
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
