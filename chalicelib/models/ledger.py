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
    """Entries posted in one hour (sharded): what reconciliation walks."""

    class Meta:
        index_name = "by_hour"
        projection = KeysOnlyProjection()

    hour_bucket = UnicodeAttribute(hash_key=True)
    entry_ref = UnicodeAttribute(range_key=True)


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
    entry_ref = UnicodeAttribute()  # "<account>|<entry_id>"
    ref = UnicodeAttribute(null=True)  # the order / redemption / card the event is about
    legs = NumberAttribute()  # how many legs the event has (reconciliation checks it)

    by_time = EntriesByTime()
    by_hour = EntriesByHour()


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
