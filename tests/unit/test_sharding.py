"""Shard counts are stage configuration: changing one loses and doubles nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalicelib import ledger, sharding, timers
from chalicelib.clock import clock, iso
from chalicelib.db import Tx
from chalicelib.models.orders import Order
from chalicelib.models.timers import Timer
from chalicelib.services import reconcile
from chalicelib.services.orders import order_index

Rules = Callable[..., None]


def _moving(old: int, new: int, prefix: str) -> str:
    """A value whose shard differs under the two counts (the case that could be lost)."""
    return next(
        v for v in (f"{prefix}{i}" for i in range(1000)) if sharding.shard_of(v, old) != sharding.shard_of(v, new)
    )


def test_timers_set_under_the_previous_count_are_cancelled_and_swept(aws: None, rules: Rules) -> None:
    rules(timer_shards=16, timer_shards_previous=16)
    now = clock.now()
    cancelled, due = _moving(16, 128, "o-c-"), _moving(16, 128, "o-d-")
    tx = Tx()
    timers.schedule(tx, "bench_kind", cancelled, now)
    timers.schedule(tx, "bench_kind", due, now)
    tx.commit()
    rules(timer_shards=128, timer_shards_previous=16)  # the migration's deployment
    tx = Tx()
    timers.cancel(tx, "bench_kind", cancelled, now)
    tx.commit()
    seen: list[str] = []
    result = timers.sweep("bench_kind", now + timedelta(seconds=1), lambda t: seen.append(t.ref) or True)
    assert seen == [due] and result["complete"] == 1


def test_a_bounded_sweep_reads_only_what_it_settles(aws: None, rules: Rules) -> None:
    rules(timer_shards=4, timer_shards_previous=4, sweep_max_items=5)
    now = clock.now()
    tx = Tx()
    for i in range(12):
        timers.schedule(tx, "bench_kind", f"o-{i}", now)
    tx.commit()
    read: list[int] = []
    original = Timer.query

    def counting(*args: Any, **kwargs: Any) -> Any:
        result = list(original(*args, **kwargs))
        read.append(len(result))
        return iter(result)

    Timer.query = counting  # type: ignore[method-assign]
    try:
        first = timers.sweep("bench_kind", now, lambda t: True)
    finally:
        Timer.query = original  # type: ignore[method-assign]
    assert (first["processed"], first["complete"], sum(read)) == (5, 0, 5)


def test_ledger_legs_posted_under_the_previous_count_are_found(aws: None, rules: Rules) -> None:
    rules(ledger_shards=16, ledger_shards_previous=16)
    now = clock.now()
    event = _moving(16, 64, "ev-")
    tx = Tx()
    legs = [ledger.Leg(ledger.PLATFORM, "a_book", 5), ledger.Leg(ledger.PLATFORM, "b_book", -5)]
    ledger.post(tx, event_id=event, kind="test", at=now, legs=legs)
    tx.commit()
    rules(ledger_shards=64, ledger_shards_previous=16)
    assert ledger.leg_amount(ledger.PLATFORM, event, "a_book") == 5
    touched = reconcile.touched_since(now, now)
    assert sum(len(ids) for ids in touched.values()) == 2
    assert reconcile.check(touched)["event_drift"] == []


def _order(merchant: str, i: int) -> Order:
    at = iso(clock.now() + timedelta(seconds=i))
    oid = f"o-{merchant}-{i:03d}"
    order = Order(
        oid,
        checkout_id="c",
        user_id="u",
        merchant_id=merchant,
        merchant_key=order_index.merchant_key(merchant, oid),
        created_key=f"{at}#{oid}",
        status="placed" if i % 3 else "paid",
        payment_method="bnpl",
        items=[],
        subtotal_fen=1,
        total_fen=1,
        address={},
        created_at=at,
        updated_at=at,
        confirmed_at=at,  # the merchant's index lists confirmed orders only
    )
    order.save()
    return order


def _all_pages(merchant: str, status: str | None = None, limit: int = 4) -> list[str]:
    out: list[str] = []
    cursor = None
    while True:
        items, cursor = order_index.merchant_orders(merchant, status, limit, cursor)
        out += [o.order_id for o in items]
        if cursor is None:
            return out


def test_a_large_merchants_sharded_order_index_pages_in_order_across_a_count_change(aws: None, rules: Rules) -> None:
    rules(merchant_order_shards="1,m-big=4", merchant_order_shards_previous="1,m-big=4")
    made = [_order("m-big", i) for i in range(10)]
    assert len({o.merchant_key for o in made}) > 1  # spread over several partitions
    rules(merchant_order_shards="1,m-big=8", merchant_order_shards_previous="1,m-big=4")
    made += [_order("m-big", i) for i in range(10, 17)]
    _order("m-small", 0)
    newest_first = [o.order_id for o in sorted(made, key=lambda o: o.created_key, reverse=True)]
    assert _all_pages("m-big") == newest_first
    assert _all_pages("m-big", "paid", limit=2) == [o for o in newest_first if int(o[-3:]) % 3 == 0]
    assert _all_pages("m-small") == ["o-m-small-000"]


def test_risk_stats_written_under_the_previous_count_are_still_counted(aws: None, rules: Rules) -> None:
    from chalicelib.services.risk import decide, stats

    rules(risk_stats_shards=8, risk_stats_shards_previous=8)
    now = clock.now()
    before, after = _moving(8, 64, "o-s-"), _moving(8, 64, "o-t-")
    tx = Tx()
    decide.add_stats(tx, now, before, "approve", ["velocity_user"])
    tx.commit()
    rules(risk_stats_shards=64, risk_stats_shards_previous=8)  # the migration's deployment
    tx = Tx()
    decide.add_stats(tx, now, after, "approve", ["velocity_user"])
    tx.commit()
    [today] = stats.daily(1, now)
    assert today.outcomes == {"approve": 2} and today.rules == {"velocity_user": 2}
