"""Set, clear and sweep timers (see `models/timers.py` for the key design).

`KINDS` lists every timer kind; writers and sweepers name them by these constants only.
The order timers (`checkout_expiry` .. `order_completion`: which ones an order needs is
derived from its state in `services/orders/obligations.py`), the payments' (`refund`,
`unapplied_refund`), the points redemption's, the payouts', the account closure's, and
the after-sale waits (`aftersale_*`, keyed by order: services/aftersale/sweep.py).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from . import errors, sharding
from .clock import iso
from .config import settings
from .db import Tx, describe
from .models.timers import Timer
from .observability import logger

CHECKOUT_EXPIRY = "checkout_expiry"
AUTO_CONFIRM = "auto_confirm"
PAYMENT_DUE = "payment_due"
COLLECTION_RETRY = "collection_retry"
DUE_REMINDER = "due_reminder"
ORDER_COMPLETION = "order_completion"
REFUND = "refund"
AFTERSALE_ANSWER = "aftersale_answer"  # the merchant answers a request (else approved)
AFTERSALE_SHIP_BACK = "aftersale_ship_back"  # the consumer ships the goods back (else closed)
AFTERSALE_ARRIVAL = "aftersale_arrival"  # the merchant confirms arrival (else refunded)
AFTERSALE_RESHIP = "aftersale_reship"  # exchange: the merchant reships (else refunded)
AFTERSALE_REPLACEMENT = "aftersale_replacement"  # exchange: the consumer confirms receipt (else confirmed)
AFTERSALE = (AFTERSALE_ANSWER, AFTERSALE_SHIP_BACK, AFTERSALE_ARRIVAL, AFTERSALE_RESHIP, AFTERSALE_REPLACEMENT)
UNAPPLIED_REFUND = "unapplied_refund"
REDEMPTION_ENQUEUE = "redemption_enqueue"
PAYOUT = "payout"
PAYOUT_QUERY = "payout_query"
CLOSURE_SCRUB = "closure_scrub"
ACCOUNT_RETENTION = "account_retention"
RISK_REVIEW = "risk_review"  # an operator decides a held 先用后付 order (else declined)
DISPUTE_DECISION = "dispute_decision"  # support decides a dispute (else it is marked late, an alarm)
WEBHOOK_DELIVERY = "webhook_delivery"  # an event's next delivery attempt (services/webhooks)
BILL_PAYMENT = "bill_payment"  # a monthly bill's payment is settled and applied to its parts (installments)
KINDS = frozenset(
    {
        CHECKOUT_EXPIRY,
        AUTO_CONFIRM,
        PAYMENT_DUE,
        COLLECTION_RETRY,
        DUE_REMINDER,
        ORDER_COMPLETION,
        REFUND,
        UNAPPLIED_REFUND,
        REDEMPTION_ENQUEUE,
        PAYOUT,
        PAYOUT_QUERY,
        CLOSURE_SCRUB,
        ACCOUNT_RETENTION,
        RISK_REVIEW,
        DISPUTE_DECISION,
        WEBHOOK_DELIVERY,
        BILL_PAYMENT,
        *AFTERSALE,
    }
)

PAGE = 100  # timers per Query page: what a sweep past its deadline may still act on


def shard_of(ref: str) -> int:
    return sharding.shard_of(ref, settings().rules.timer_shards)


def read_shards() -> range:
    """The shards a sweep reads: those of the current count and of the previous one."""
    rules = settings().rules
    return sharding.read_range(rules.timer_shards, rules.timer_shards_previous)


def _bucket(kind: str, shard: int) -> str:
    return f"{kind}#{shard:02d}"


def timer(kind: str, ref: str, at: datetime, data: dict[str, Any] | None = None) -> Timer:
    due = iso(at)
    return Timer(_bucket(kind, shard_of(ref)), f"{due}#{ref}", kind=kind, ref=ref, due_at=due, data=data)


def schedule(tx: Tx, kind: str, ref: str, at: datetime, data: dict[str, Any] | None = None) -> None:
    tx.save(timer(kind, ref, at, data))


def cancel(tx: Tx, kind: str, ref: str, at: datetime | str) -> None:
    """Remove a timer set for `at` (a no-op if it already fired or never existed).

    While the shard count moves, the timer may sit under the previous count: both go.
    """
    due = at if isinstance(at, str) else iso(at)
    rules = settings().rules
    for shard in sharding.candidates(ref, rules.timer_shards, rules.timer_shards_previous):
        tx.delete(Timer(_bucket(kind, shard), f"{due}#{ref}"))


def live(ref: str) -> list[Timer]:
    """The timers set for `ref` (by the `by_ref` index: eventually consistent, kind and due_at)."""
    return list(Timer.by_ref.query(ref))


def exists(kind: str, ref: str, at: datetime | str) -> bool:
    """Whether the timer of `kind` for `ref` at `at` is set (a consistent read of its key)."""
    due = at if isinstance(at, str) else iso(at)
    rules = settings().rules
    return any(
        Timer.count(_bucket(kind, shard), Timer.key == f"{due}#{ref}", consistent_read=True) > 0
        for shard in sharding.candidates(ref, rules.timer_shards, rules.timer_shards_previous)
    )


def take(tx: Tx, item: Timer) -> None:
    """Claim a due timer inside the transaction that acts on it: exactly one sweep wins."""
    tx.delete(item, condition=Timer.key.exists(), on_fail=errors.conflict("timer_taken", "another run took it"))


def due(
    kind: str, now: datetime, limit: int | None = None, until: float | None = None, cut: list[bool] | None = None
) -> Iterator[Timer]:
    """Timers of `kind` due at `now`, shard by shard, oldest first within a shard.

    With `limit`, at most that many are read in all: each shard's query asks the store
    for no more than what is left. With `until` (a `time.monotonic()` deadline), no query
    starts after it. So a bounded sweep acts on everything it reads. Stopping early for
    either appends to `cut`.
    """
    upper = iso(now) + "#\uffff"
    left = limit
    for shard in read_shards():
        if (left is not None and left <= 0) or (until is not None and time.monotonic() > until):
            if cut is not None:
                cut.append(True)
            return
        page = min(left, PAGE) if left is not None else PAGE
        items = Timer.query(_bucket(kind, shard), Timer.key <= upper, consistent_read=True, limit=left, page_size=page)
        for n, item in enumerate(items, 1):
            if left is not None:
                left -= 1
            yield item
            if n % page == 0 and until is not None and time.monotonic() > until:
                if cut is not None:
                    cut.append(True)
                return  # the next item would be the next page's query
        if left is not None and left <= 0:  # the budget is used up: there may be more
            if cut is not None:
                cut.append(True)
            return


def sweep(
    kind: str,
    now: datetime,
    act: Callable[[Timer], bool],
    *,
    max_items: int | None = None,
    max_seconds: float | None = None,
) -> dict[str, int]:
    """Run `act` on due timers, bounded by the configured item count and time.

    `act` returns True when it settled the timer, False when another run or a state
    change got there first. What is left is picked up by the next run. A job that sweeps
    several kinds passes what is left of its own budget as `max_items`/`max_seconds`.
    """
    rules = settings().rules
    limit = rules.sweep_max_items if max_items is None else max_items
    deadline = time.monotonic() + (rules.sweep_max_seconds if max_seconds is None else max_seconds)
    done = skipped = failed = 0
    cut: list[bool] = []
    unexpected: Exception | None = None
    for item in due(kind, now, limit, deadline, cut):
        try:
            if act(item):
                done += 1
            else:
                skipped += 1
        except errors.DomainError as err:
            if isinstance(err, errors.Conflict):
                skipped += 1
            else:
                failed += 1
        except Exception as exc:  # noqa: BLE001 - one item's failure must not stop the others' (a poison pill)
            failed += 1
            unexpected = unexpected or exc
            _log_failed(kind, item, exc)
    if unexpected is not None:
        raise unexpected  # the others were done; the run still fails (its alarm), the timer stays
    # A run cut short by its budget may have left some: the next run looks again.
    complete = int(not cut)
    return {"processed": done, "skipped": skipped, "failed": failed, "complete": complete}


def _log_failed(kind: str, item: Timer, exc: Exception) -> None:
    """A timer whose work raised: its kind and ref (an id, never personal data), the error's
    class, where, and what the store said; its item is left for the next run."""
    logger.error(
        "timer failed",
        extra={
            "kind": kind,
            "ref": item.ref,
            "error": type(exc).__name__,
            "where": traceback.format_tb(exc.__traceback__)[-3:],
            **describe(exc),
        },
    )
