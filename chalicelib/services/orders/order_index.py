"""A merchant's order index, sharded for very large merchants.

Every order carries `merchant_key` = "<merchant_id>#<shard>", the shard a hash of the order
id modulo the merchant's count in `MERCHANT_ORDER_SHARDS` ("1,m_big=16": one partition for
everyone, sixteen for m_big). The list reads every shard the current and the previous count
can have used and merges them newest first; its cursor is the last order's `created_key`
(unique: it ends with the order id), so a page boundary is the same whatever the shards.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from itertools import islice

from ... import pagination, sharding
from ...config import settings
from ...models.orders import Order


def merchant_key(merchant_id: str, order_id: str) -> str:
    shards = sharding.counts_for(settings().rules.merchant_order_shards, merchant_id)
    return f"{merchant_id}#{sharding.shard_of(order_id, shards):02d}"


def _read_range(merchant_id: str) -> range:
    rules = settings().rules
    return sharding.read_range(
        sharding.counts_for(rules.merchant_order_shards, merchant_id),
        sharding.counts_for(rules.merchant_order_shards_previous, merchant_id),
    )


def merchant_orders(
    merchant_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[Order], str | None]:
    """One page of a merchant's confirmed orders, newest first, optionally of one status."""
    scope = f"merchant-orders:{merchant_id}:{status or '*'}"
    after = (pagination.decode(cursor, scope) or {}).get("created_key")
    if after is not None and not isinstance(after, str):
        after = None

    # Never a checkout the buyer did not confirm: the merchant has no business with its
    # address until then (an expired one never becomes theirs).
    seen = Order.confirmed_at.exists()
    if status:
        seen &= Order.status == status

    def shard(n: int) -> Iterator[Order]:
        return iter(
            Order.by_merchant.query(
                f"{merchant_id}#{n:02d}",
                Order.created_key < after if after else None,
                scan_index_forward=False,
                page_size=limit,
                filter_condition=seen,
            )
        )

    shards = [shard(n) for n in _read_range(merchant_id)]
    merged = shards[0] if len(shards) == 1 else heapq.merge(*shards, key=lambda o: o.created_key, reverse=True)
    items = list(islice(merged, limit))
    last = {"created_key": items[-1].created_key} if len(items) == limit else None
    return items, pagination.encode(last, scope)
