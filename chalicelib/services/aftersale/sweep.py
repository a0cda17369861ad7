"""`advance_aftersale`: every after-sale wait that ran out, by its due keys (never a scan).

- `aftersale_answer`: the merchant did not answer → the request is approved.
- `aftersale_ship_back`: the goods were not shipped back → the request closes.
- `aftersale_arrival`: the merchant did not confirm arrival → the refund happens.
- `aftersale_reship`: the merchant took an exchange's goods back and reshipped nothing →
  the refund happens.
- `aftersale_replacement`: the consumer did not confirm the replacement → confirmed.
- `dispute_decision`: support did not decide a dispute in time → marked late, an alarm.

A timer acts only if the order is still in that wait, at that deadline (a person who
acted first moved it on, and their transaction cancelled the timer or will lose to this
one's claim); anything else drops it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ... import timers
from ...db import Tx
from ...models import orders as o
from ...models.aftersale import AWAITING_RESHIPMENT, AWAITING_RETURN, PENDING, RESHIPPED, RETURNING, ReturnRequest
from ...models.orders import Order
from ...models.timers import Timer
from .disputes import flag_late
from .exchange import receive_replacement
from .refunds import SYSTEM
from .requests import decide
from .shipments import arrive, close

JOB = "advance_aftersale"


def _approve(request: ReturnRequest, order: Order, now: datetime, fired: Timer) -> None:
    decide(request, order, True, "approved: the merchant did not answer in time", now, SYSTEM, fired)


def _arrive(request: ReturnRequest, order: Order, now: datetime, fired: Timer) -> None:
    arrive(request, order, now, SYSTEM, fired)


def _refund_unreshipped(request: ReturnRequest, order: Order, now: datetime, fired: Timer) -> None:
    arrive(request, order, now, SYSTEM, fired, waiting=AWAITING_RESHIPMENT)


def _replacement_received(request: ReturnRequest, order: Order, now: datetime, fired: Timer) -> None:
    receive_replacement(request, order, now, SYSTEM, fired)


ACTIONS: dict[str, tuple[str, Callable[[ReturnRequest, Order, datetime, Timer], None]]] = {
    timers.AFTERSALE_ANSWER: (PENDING, _approve),
    timers.AFTERSALE_SHIP_BACK: (AWAITING_RETURN, close),
    timers.AFTERSALE_ARRIVAL: (RETURNING, _arrive),
    timers.AFTERSALE_RESHIP: (AWAITING_RESHIPMENT, _refund_unreshipped),
    timers.AFTERSALE_REPLACEMENT: (RESHIPPED, _replacement_received),
}


def _drop(timer: Timer) -> bool:
    tx = Tx()
    timers.take(tx, timer)
    tx.commit()
    return False


def advance_aftersale(now: datetime) -> dict[str, int]:
    """Act on every after-sale wait that ran out (auto-approve, close, auto-refund)."""
    totals = {"processed": 0, "skipped": 0, "failed": 0, "complete": 1}
    for kind, (waiting, act) in ACTIONS.items():

        def one(timer: Timer, waiting: str = waiting, act: Callable[..., None] = act) -> bool:
            order = Order.get(timer.ref, consistent_read=True)
            current = (order.status, order.aftersale_timer, order.aftersale_due_at)
            if current != (o.RETURN_REQUESTED, timer.kind, timer.due_at) or not order.pending_return_id:
                return _drop(timer)
            request = ReturnRequest.get(order.pending_return_id, consistent_read=True)
            if request.status != waiting:
                return _drop(timer)
            act(request, order, now, timer)
            return True

        _add(totals, timers.sweep(kind, now, one))
    _add(totals, flag_late(now))
    return totals


def _add(totals: dict[str, int], result: dict[str, int]) -> None:
    for key in ("processed", "skipped", "failed"):
        totals[key] += result[key]
    totals["complete"] = min(totals["complete"], result["complete"])
