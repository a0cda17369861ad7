"""Write sharding of hot partition keys, and how readers cover a change of shard count.

A hot logical key (a timer kind, the platform ledger account, an hour of entries, a very
large merchant's order index) is written as `<key>#<shard>`, the shard a stable hash of
what the item is about modulo the stage's shard count (chalicelib/config.py). Each family
has two settings: the count writes use now (`*_SHARDS`) and the count they used before the
last change (`*_SHARDS_PREVIOUS`; equal to the current one when nothing is migrating).

Readers never miss an item written under either count:
- range readers (sweeps, reconciliation, list merges) query shards `0 .. max(now, before)-1`:
  a shard number below the larger count exists under it, so that range is the union;
- point readers of one item (a timer to cancel, one ledger leg) look at the item's shard under
  both counts (`candidates`), so one written before the change is still found.
How a live table migrates is in docs/operations.md ("Hot keys and shard counts").
"""

from __future__ import annotations

import hashlib


def shard_of(value: str, shards: int) -> int:
    return int(hashlib.sha256(value.encode()).hexdigest()[:8], 16) % max(1, shards)


def read_range(now: int, before: int) -> range:
    """Every shard number an item may sit in while a count moves from `before` to `now`."""
    return range(max(1, now, before))


def candidates(value: str, now: int, before: int) -> list[int]:
    """The shards `value` may have been written to: under the current count first."""
    out = [shard_of(value, now)]
    old = shard_of(value, before)
    if old not in out:
        out.append(old)
    return out


def counts_for(spec: str, name: str) -> int:
    """`name`'s count in a spec like "1,m_big=16,m_bigger=32" (the first number: everyone else)."""
    default, *overrides = (part.strip() for part in spec.split(","))
    for part in overrides:
        key, _, value = part.partition("=")
        if key.strip() == name:
            return int(value)
    return int(default)
