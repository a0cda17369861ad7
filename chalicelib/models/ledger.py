"""Wallet entries (append-only, double entry) and the stored balances they explain."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection, LocalSecondaryIndex
from pynamodb.models import Model

from ..db import table_meta


class EntriesByTime(LocalSecondaryIndex["Entry"]):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    account = UnicodeAttribute(hash_key=True)
    posted_key = UnicodeAttribute(range_key=True)


class EntriesByHour(GlobalSecondaryIndex["Entry"]):
    """Entries posted in one hour (sharded): what reconciliation walked before `by_day`.

    Still written, and read for the time before `LEDGER_BY_DAY_SINCE` (entries posted before
    `day_bucket` existed); dropped in a later release (docs/walks.md "The ledger and its reconciliation").
    """

    class Meta:
        index_name = "by_hour"
        projection = KeysOnlyProjection()

    hour_bucket = UnicodeAttribute(hash_key=True)
    entry_ref = UnicodeAttribute(range_key=True)


class EntriesByDay(GlobalSecondaryIndex["Entry"]):
    """Entries posted in one UTC day (sharded), in posting order: what reconciliation walks.

    One query per shard and day, bounded by a `posted_key` range: a run costs (days it
    touches) × shards queries however few entries there are (by hour it was 24 times that).
    """

    class Meta:
        index_name = "by_day"
        projection = KeysOnlyProjection()

    day_bucket = UnicodeAttribute(hash_key=True)
    posted_key = UnicodeAttribute(range_key=True)


class Entry(Model):
    Meta = table_meta("entries", append_only=True)  # entries are never changed or removed

    account = UnicodeAttribute(hash_key=True)  # "user#<id>", "merchant#<id>", "platform#<shard>"
    entry_id = UnicodeAttribute(range_key=True)  # "<event_id>#<book>": one leg per event and book
    book = UnicodeAttribute()
    amount = NumberAttribute()  # signed integer (fen or points)
    event_id = UnicodeAttribute()
    event_kind = UnicodeAttribute()
    posted_at = UnicodeAttribute()
    posted_key = UnicodeAttribute()  # "<posted_at>#<event_id>#<book>"
    hour_bucket = UnicodeAttribute()
    # "<YYYYMMDD>#<shard>" (UTC); absent on entries posted before it existed (LEDGER_BY_DAY_SINCE)
    day_bucket = UnicodeAttribute(null=True)
    entry_ref = UnicodeAttribute()  # "<account>|<entry_id>"
    ref = UnicodeAttribute(null=True)  # the order / redemption / card the event is about
    legs = NumberAttribute()  # how many legs the event has (reconciliation checks it)

    by_time = EntriesByTime()
    by_hour = EntriesByHour()
    by_day = EntriesByDay()


class Balance(Model):
    """A stored balance; always equal to the sum of its account's entries in its book."""

    Meta = table_meta("balances")

    account = UnicodeAttribute(hash_key=True)
    book = UnicodeAttribute(range_key=True)
    balance = NumberAttribute(default=0)
    # Only for the credit book: the limit and the headroom (limit - used) that a
    # reservation is conditioned on, since DynamoDB conditions cannot do arithmetic.
    limit = NumberAttribute(null=True)
    headroom = NumberAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
