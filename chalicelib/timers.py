"""Set, clear and sweep timers (see `models/timers.py` for the key design).

Kinds used by the schedules: `checkout_expiry`, `auto_confirm`, `payment_due`,
`due_reminder`, `collection_retry`, `order_completion` (the order timers: which ones an
order needs is derived from its state in `services/obligations.py`), and `refund`,
`unapplied_refund` (payments).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from . import errors
from .clock import iso
from .config import settings
from .db import Tx
from .models.timers import Timer

CHECKOUT_EXPIRY = "checkout_expiry"
AUTO_CONFIRM = "auto_confirm"
PAYMENT_DUE = "payment_due"
COLLECTION_RETRY = "collection_retry"
DUE_REMINDER = "due_reminder"
ORDER_COMPLETION = "order_completion"
REFUND = "refund"


def shard_of(ref: str) -> int:
    return int(hashlib.sha256(ref.encode()).hexdigest()[:8], 16) % settings().rules.timer_shards


def _bucket(kind: str, shard: int) -> str:
    return f"{kind}#{shard:02d}"


def timer(kind: str, ref: str, at: datetime, data: dict[str, Any] | None = None) -> Timer:
    due = iso(at)
    return Timer(_bucket(kind, shard_of(ref)), f"{due}#{ref}", kind=kind, ref=ref, due_at=due, data=data)


def schedule(tx: Tx, kind: str, ref: str, at: datetime, data: dict[str, Any] | None = None) -> None:
    tx.save(timer(kind, ref, at, data))


def cancel(tx: Tx, kind: str, ref: str, at: datetime | str) -> None:
    """Remove a timer set for `at` (a no-op if it already fired or never existed)."""
    due = at if isinstance(at, str) else iso(at)
    tx.delete(Timer(_bucket(kind, shard_of(ref)), f"{due}#{ref}"))


def live(ref: str) -> list[Timer]:
    """The timers set for `ref` (by the `by_ref` index: eventually consistent, kind and due_at)."""
    return list(Timer.by_ref.query(ref))


def exists(kind: str, ref: str, at: datetime | str) -> bool:
    """Whether the timer of `kind` for `ref` at `at` is set (a consistent read of its key)."""
    due = at if isinstance(at, str) else iso(at)
    return Timer.count(_bucket(kind, shard_of(ref)), Timer.key == f"{due}#{ref}", consistent_read=True) > 0


def take(tx: Tx, item: Timer) -> None:
    """Claim a due timer inside the transaction that acts on it: exactly one sweep wins."""
    tx.delete(item, condition=Timer.key.exists(), on_fail=errors.conflict("timer_taken", "another run took it"))


def due(kind: str, now: datetime) -> Iterator[Timer]:
    """Timers of `kind` due at `now`, shard by shard, oldest first within a shard."""
    upper = iso(now) + "#\uffff"
    for shard in range(settings().rules.timer_shards):
        yield from Timer.query(_bucket(kind, shard), Timer.key <= upper, consistent_read=True)


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
    for item in due(kind, now):
        if done + skipped + failed >= limit or time.monotonic() > deadline:
            return {"processed": done, "skipped": skipped, "failed": failed, "complete": 0}
        try:
            if act(item):
                done += 1
            else:
                skipped += 1
        except errors.ApiError as err:
            if err.status == 409:
                skipped += 1
            else:
                failed += 1
    return {"processed": done, "skipped": skipped, "failed": failed, "complete": 1}
