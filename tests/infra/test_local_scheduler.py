"""The local stack's scheduler runs each job at its cloud rate on the service clock: an idle
stack after a clock move catches up once, then runs only what the cloud would."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib import schedules
from chalicelib.local.scheduler import Scheduler, cloud_rates
from tests.conftest import T0


def test_every_job_has_its_cloud_rate(app_module: Any) -> None:
    rates = cloud_rates(app_module.app)
    assert set(schedules.names()) <= set(rates), set(schedules.names()) - set(rates)
    assert rates["expire_checkouts"] == 60 and rates["close_payment_windows"] == 300
    assert rates["auto_confirm_receipts"] == 3600 and rates["reconcile_ledger"] == 86400


def test_jobs_run_at_their_rate_catch_up_after_a_clock_move_and_rerun_only_when_cut_short() -> None:
    rates = {"minutely": 60.0, "hourly": 3600.0, "daily": 86400.0}
    scheduler = Scheduler([*rates, "unscheduled"], rates, tick=60)
    ran: list[str] = []
    behind = {"hourly": 2}  # cut short by its budget twice before it has caught up

    def run(name: str, now: Any) -> dict[str, Any]:
        ran.append(name)
        if behind.get(name):
            behind[name] -= 1
            return {"processed": 500, "complete": 0}
        return {"processed": 0, "complete": 1}

    def tick(now: Any) -> list[str]:
        ran.clear()
        scheduler.round(now, run, lambda: False)
        return sorted(ran)

    assert tick(T0) == ["daily", "hourly", "minutely", "unscheduled"]  # a new stack runs everything
    assert tick(T0 + timedelta(seconds=60)) == ["hourly", "minutely", "unscheduled"]  # hourly is behind
    assert tick(T0 + timedelta(seconds=120)) == ["hourly", "minutely", "unscheduled"]
    assert tick(T0 + timedelta(seconds=180)) == ["minutely", "unscheduled"]  # caught up: waits its hour
    assert tick(T0 + timedelta(seconds=200)) == []
    weeks = T0 + timedelta(days=28)
    assert tick(weeks) == ["daily", "hourly", "minutely", "unscheduled"]  # the clock moved: each once
    assert tick(weeks + timedelta(seconds=30)) == []
    assert tick(weeks + timedelta(seconds=60)) == ["minutely", "unscheduled"]


def test_a_stopping_stack_starts_no_further_job() -> None:
    scheduler = Scheduler(["a", "b"], {}, tick=60)
    ran: list[str] = []
    stopping = [False]

    def run(name: str, now: Any) -> dict[str, Any]:
        ran.append(name)
        stopping[0] = True
        return {}

    assert scheduler.round(T0, run, lambda: stopping[0]) == 1 and ran == ["a"]
