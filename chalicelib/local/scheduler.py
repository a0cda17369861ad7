"""The local stack's scheduler: each job at its cloud rate, on the service clock.

app.py declares every schedule's rate (`expire_checkouts` each minute, `reconcile_ledger` each
day, ...). The scheduler ticks every `LOCAL_SCHEDULE_SECONDS` and runs a job when the service
clock has moved its rate past the job's last run, so moving the clock weeks ahead runs every
job at the next tick, once. A job whose run was cut short by its budget (`"complete": 0`)
runs again at the next tick until it has caught up; a job that caught up waits for its rate.
An idle stack, however many orders its tables hold, thus runs only what the cloud would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from chalice.app import Rate

UNIT_SECONDS = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}


def cloud_rates(app: Any) -> dict[str, float]:
    """Seconds between runs of each scheduled job, as app.py declares them."""
    rates: dict[str, float] = {}
    for source in getattr(app, "event_sources", []):
        expression = getattr(source, "schedule_expression", None)
        if isinstance(expression, Rate):
            rates[source.name] = float(expression.value * UNIT_SECONDS[expression.unit])
    return rates


class Scheduler:
    def __init__(self, names: Iterable[str], rates: dict[str, float], tick: float) -> None:
        self.names = sorted(names)
        # A job without a declared schedule runs every tick.
        self.rates = {name: rates.get(name, tick) for name in self.names}
        self.last_run: dict[str, datetime] = {}
        self.behind: set[str] = set()

    def due(self, now: datetime) -> list[str]:
        out = []
        for name in self.names:
            last = self.last_run.get(name)
            if last is None or name in self.behind or (now - last).total_seconds() >= self.rates[name] or now < last:
                out.append(name)
        return out

    def ran(self, name: str, now: datetime, result: dict[str, Any]) -> None:
        self.last_run[name] = now
        if result.get("complete") == 0:
            self.behind.add(name)
        else:
            self.behind.discard(name)

    def round(self, now: datetime, run: Callable[[str, datetime], dict[str, Any]], stop: Callable[[], bool]) -> int:
        """Run what is due; answers how many jobs ran."""
        ran = 0
        for name in self.due(now):
            if stop():
                break
            self.ran(name, now, run(name, now))
            ran += 1
        return ran
