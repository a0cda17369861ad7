"""One timer whose work fails unexpectedly (a poison pill) does not stop the sweep for the
others: they are done, the failure is logged with the timer's kind and ref, the run still
fails (so its alarm fires), and the failed timer is left for the next run."""

from __future__ import annotations

import logging

import pytest

from chalicelib import timers
from chalicelib.clock import clock
from chalicelib.db import Tx
from chalicelib.models.timers import Timer


def test_a_timer_that_raises_does_not_stop_the_others_and_stays_for_the_next_run(
    aws: None, caplog: pytest.LogCaptureFixture
) -> None:
    now = clock.now()
    tx = Tx()
    for ref in ("o-a", "o-poison", "o-b"):
        timers.schedule(tx, "test_kind", ref, now)
    tx.commit()
    done: list[str] = []

    def act(timer: Timer) -> bool:
        if timer.ref == "o-poison":
            raise OverflowError("date value out of range")
        tx = Tx()
        timers.take(tx, timer)
        tx.commit()
        done.append(timer.ref)
        return True

    with caplog.at_level(logging.ERROR), pytest.raises(OverflowError):
        timers.sweep("test_kind", now, act)
    assert sorted(done) == ["o-a", "o-b"]
    failed = [r for r in caplog.records if r.getMessage() == "timer failed"]
    assert [(r.__dict__.get("kind"), r.__dict__.get("ref")) for r in failed] == [("test_kind", "o-poison")]
    done.clear()
    with pytest.raises(OverflowError):  # still due: the next run tries it again, and only it
        timers.sweep("test_kind", now, act)
    assert done == []
