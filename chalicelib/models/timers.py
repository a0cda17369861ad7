"""Timers: what a schedule must do at a time, in a sharded time-sorted partition.

Key design: `bucket` = "<kind>#<shard>", `key` = "<due_at>#<ref>". A sweep queries each of
the kind's shards for keys up to now, so it reads only what is due, never a scan; the
shards spread writes (the partition key is never one hot value); a timer is written and
deleted in the same transaction as the state change that sets or settles it.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from ..db import table_meta


class TimersByRef(GlobalSecondaryIndex["Timer"]):
    """The live timers of one thing (an order, a refund): what the obligation check asks."""

    class Meta:
        index_name = "by_ref"
        projection = IncludeProjection(["kind", "due_at"])

    ref = UnicodeAttribute(hash_key=True)
    bucket = UnicodeAttribute(range_key=True)


class Timer(Model):
    Meta = table_meta("timers")

    bucket = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    ref = UnicodeAttribute()
    due_at = UnicodeAttribute()
    data = JSONAttribute(null=True)

    by_ref = TimersByRef()
