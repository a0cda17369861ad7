"""`make bench` stays runnable: one small section end to end (numbers are printed, never asserted)."""

from __future__ import annotations

from scripts import bench


def test_the_bench_runs_a_small_sweeper_section() -> None:
    out = bench.run(["sweeper"], quick=True)
    assert "items read per item settled" in out
    assert "due now                     20" in out, out


def test_the_capacity_simulation_sees_the_tables_a_purchase_writes() -> None:
    out = bench.run(["capacity"], quick=True)
    for table in ("orders ", "orders.by_user", "entries ", "entries.by_day", "timers ", "skus "):
        line = next(line for line in out.splitlines() if line.startswith(table))
        assert "no writes" not in line, line
    assert "failures: 0" in out, out


def test_the_risk_section_times_decisions_and_counts_the_confirmation_calls() -> None:
    out = bench.run(["risk"], quick=True)
    assert "decision (1 BatchGet" in out and "p99" in out, out
    # the decision's one BatchGet beside the confirmation's own, and one transaction (a token's
    # revocation check may add a GetItem when its cache expires mid-run)
    assert "'BatchGetItem': 2, 'UpdateItem': 1, 'TransactWriteItems': 1" in out, out
