"""Where a merchant's events live: `<merchant_id>#<shard>`, sharded like its order index.

A flash sale's merchant emits an event per order at the purchase rate (10,000/s, ~6 WCU
each): one partition takes 1,000 WCU/s. The shard is a hash of the event id modulo the
merchant's count in `MERCHANT_ORDER_SHARDS` (one for everyone, more for a very large
merchant: the same setting, as events follow orders). Readers cover a change of count
(chalicelib/sharding.py): one event is looked up under both counts; lists read every shard
either count may have used and merge them by event id (which sorts by time and is unique, so
a page boundary is the same whatever the shards).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from itertools import islice

from pynamodb.exceptions import DoesNotExist

from ... import sharding
from ...config import settings
from ...models.webhooks import WebhookEvent


def _counts(merchant_id: str) -> tuple[int, int]:
    rules = settings().rules
    return (
        sharding.counts_for(rules.merchant_order_shards, merchant_id),
        sharding.counts_for(rules.merchant_order_shards_previous, merchant_id),
    )


def key_of(merchant_id: str, event_id: str) -> str:
    return f"{merchant_id}#{sharding.shard_of(event_id, _counts(merchant_id)[0]):02d}"


def find(merchant_id: str, event_id: str) -> WebhookEvent | None:
    """The event, under the current shard count or the previous one."""
    for shard in sharding.candidates(event_id, *_counts(merchant_id)):
        try:
            return WebhookEvent.get(f"{merchant_id}#{shard:02d}", event_id, consistent_read=True)
        except DoesNotExist:
            continue
    return None


def merged(
    merchant_id: str, query: Callable[[str], Iterator[WebhookEvent]], *, newest_first: bool, limit: int
) -> list[WebhookEvent]:
    """Up to `limit` events of every shard, by event id (`query` reads one shard in that order)."""
    shards = [query(f"{merchant_id}#{n:02d}") for n in sharding.read_range(*_counts(merchant_id))]
    events = shards[0] if len(shards) == 1 else heapq.merge(*shards, key=lambda e: e.event_id, reverse=newest_first)
    return list(islice(events, limit))
