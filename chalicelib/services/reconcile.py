"""`reconcile_ledger`: recompute what the ledger touched since the last run, and report drift.

Walk: every entry posted since the last run's watermark (less one hour, for transactions
that committed late) up to `RECONCILE_MARGIN_SECONDS` before now (what is more recent is
the next run's, so a run never sees part of an event's legs) through the `by_day` index,
each day's shards in turn with a range on the posting time: never a scan. Entries posted
before `LEDGER_BY_DAY_SINCE` may lack `day_bucket` (written before the index existed): that
part of a walk uses `by_hour`.
Then, for every touched user or merchant account, sum all its entries per book and compare
with the stored `Balance` items (both ways: a book with entries but no balance item, and a
balance item no entries explain). For a merchant, payable = settled − reversed − paid out,
and what the ledger says was paid out equals what the payout records say (sending or
paid). For every touched event: its legs sum to zero, are all
in one unit, and there are as many as each leg says. Platform accounts are checked through
their touched legs only (they carry every event: summing them whole would not scale).

Drift is counted (`LedgerDrift`) and logged with ids only; nothing is ever "fixed" here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from .. import ledger
from ..clock import iso, parse_iso
from ..config import settings
from ..models.jobstate import JobState
from ..models.ledger import Balance, EntriesByDay, Entry
from ..observability import count, logger

JOB = "reconcile_ledger"


def _steps(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The hours (or UTC days) from the one holding `start` to the one holding `end`."""
    at = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if step >= timedelta(days=1):
        at = at.replace(hour=0)
    out = []
    while at <= end:
        out.append(at)
        at += step
    return out


def touched_since(start: datetime, end: datetime) -> dict[str, set[str]]:
    """Entry ids (by account) posted from `start` to `end` (and, before `LEDGER_BY_DAY_SINCE`,
    in the whole hours around them)."""
    touched: dict[str, set[str]] = defaultdict(set)
    since = parse_iso(settings().rules.ledger_by_day_since)
    if start < since:
        for hour in _steps(start, min(end, since), timedelta(hours=1)):
            for bucket in ledger.hour_buckets(hour):
                for key in Entry.by_hour.query(bucket):
                    touched[key.account].add(key.entry_id)
    if end >= since:
        start = max(start, since)
        # posted_key is "<posted_at>#<event_id>#<book>" with a fixed-width posted_at: every key
        # posted at `end` sorts below "<end>$" ("$" follows "#").
        posted = EntriesByDay.posted_key.between(iso(start), f"{iso(end)}$")
        for day in _steps(start, end, timedelta(days=1)):
            for bucket in ledger.day_buckets(day):
                for key in Entry.by_day.query(bucket, posted):
                    touched[key.account].add(key.entry_id)
    return touched


def _entries_of(account: str, entry_ids: set[str]) -> list[Entry]:
    if account.startswith(ledger.PLATFORM):
        return list(Entry.batch_get([(account, eid) for eid in sorted(entry_ids)]))
    return list(Entry.query(account, consistent_read=True))


def _balance_drift(account: str, entries: list[Entry]) -> list[dict[str, Any]]:
    derived: dict[str, int] = defaultdict(int)
    for e in entries:
        if e.book in ledger.STORED_BOOKS:
            derived[e.book] += int(e.amount)
    stored = {b.book: int(b.balance or 0) for b in Balance.query(account, consistent_read=True)}
    return [
        {"account": account, "book": book, "stored": stored.get(book), "derived": derived.get(book, 0)}
        for book in sorted(set(derived) | set(stored))
        if derived.get(book, 0) != stored.get(book, 0)
    ]


def check(touched: dict[str, set[str]]) -> dict[str, Any]:
    """Recompute the touched balances and events; returns counts and the drifting ids."""
    from .payouts import payable_drift

    balance_drift: list[dict[str, Any]] = []
    payout_drift: list[dict[str, Any]] = []
    event_legs: dict[str, list[Entry]] = defaultdict(list)
    for account, entry_ids in sorted(touched.items()):
        entries = _entries_of(account, entry_ids)
        for e in entries:
            if e.entry_id in entry_ids:
                event_legs[e.event_id].append(e)
        if account.startswith(ledger.PLATFORM):
            continue
        drifting = _balance_drift(account, entries)
        if drifting:
            # A transaction may have committed between reading the entries and the
            # balances: look once more before calling it drift.
            drifting = _balance_drift(account, list(Entry.query(account, consistent_read=True)))
        balance_drift.extend(drifting)
        if account.startswith("merchant#") and (found := payable_drift(account, entries)) is not None:
            payout_drift.append(found)
    event_drift: list[dict[str, Any]] = []
    for event_id, legs in sorted(event_legs.items()):
        total = sum(int(e.amount) for e in legs)
        expected = {int(e.legs) for e in legs}
        units = {ledger.unit(e.book) for e in legs}
        if total != 0 or expected != {len(legs)} or len(units) != 1:
            event_drift.append(
                {"event_id": event_id, "sum": total, "legs_found": len(legs), "legs_expected": sorted(expected)}
            )
    return {
        "accounts": len([a for a in touched if not a.startswith(ledger.PLATFORM)]),
        "events": len(event_legs),
        "balance_drift": balance_drift,
        "event_drift": event_drift,
        "payout_drift": payout_drift,
    }


def reconcile_ledger(now: datetime) -> dict[str, Any]:
    """Check every balance and event the ledger touched since the last run."""
    try:
        state = JobState.get(JOB, consistent_read=True)
    except DoesNotExist:
        state = JobState(JOB)
    if state.watermark:
        start = parse_iso(state.watermark) - timedelta(hours=1)
    else:
        start = now - timedelta(seconds=settings().rules.reconcile_first_lookback_seconds)
    # The last minutes before `now` are the next run's: an event committing now may show
    # some legs in the (eventually consistent) `by_day` index and not yet the others.
    until = now - timedelta(seconds=settings().rules.reconcile_margin_seconds)
    # Bounded like every sweep: each UTC day touched is a query per `by_day` shard, so a job
    # that fell behind (or a clock moved weeks) catches up over several runs, never in one.
    end = min(until, start + timedelta(hours=settings().rules.reconcile_max_hours_per_run))
    result = check(touched_since(start, end))
    drift = len(result["balance_drift"]) + len(result["event_drift"]) + len(result["payout_drift"])
    if drift:
        count("LedgerDrift", drift)
        logger.error(
            "ledger drift",
            extra={
                "balances": [f"{d['account']}/{d['book']}" for d in result["balance_drift"]],
                "events": [d["event_id"] for d in result["event_drift"]],
                "payouts": [d["merchant_id"] for d in result["payout_drift"]],
            },
        )
    summary = {
        "accounts": result["accounts"],
        "events": result["events"],
        "drift": drift,
        "from": iso(start),
        "complete": int(end >= until),
    }
    state.watermark = iso(end)
    state.last_run_at = iso(now)
    state.last_result = {k: v for k, v in summary.items() if k != "from"}
    state.save()
    return summary
