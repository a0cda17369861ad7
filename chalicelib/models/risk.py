"""Risk decisions (风控): counters, block/allow lists, and each decision with its case.

`RiskCounter` is one generic counter table, written only with atomic adds:
- velocity: `key` = "<dimension>#<keyed hash>[#<shard>]", `part` = the China-agnostic UTC day
  "YYYY-MM-DD"; `n`/`f` the day's orders and fen, `nSSS`/`fSSS` those of its ten-minute slot
  SSS (000..143), so one item per day answers 1 h, 24 h and 7 d windows to a slot;
- a user's profile: `key` = "profile#<user_id>", `part` = "all": `orders` (paid) and
  `recent_fen` (their amounts, oldest first);
- statistics (`RiskStats`, same table): see below.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.expressions.operand import Path
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from ..db import table_meta

APPROVE = "approve"
REVIEW = "review"
DECLINE = "decline"
OUTCOMES = (APPROVE, REVIEW, DECLINE)

# A review case's status: open while `pending`; decided once.
PENDING = "pending"
APPROVED = "approved"
DECLINED = "declined"
EXPIRED = "expired"  # undecided in time: declined by the timer
REVIEW_STATUSES = (PENDING, APPROVED, DECLINED, EXPIRED)

BLOCK = "block"
ALLOW = "allow"
LIST_KINDS = ("user", "device", "card", "address", "phone")

SLOT_SECONDS = 600
SLOTS_PER_DAY = 86400 // SLOT_SECONDS


def slot_count(slot: int) -> str:
    return f"n{slot:03d}"


def slot_fen(slot: int) -> str:
    return f"f{slot:03d}"


class RiskCounter(Model):
    Meta = table_meta("risk-counters")

    key = UnicodeAttribute(hash_key=True)
    part = UnicodeAttribute(range_key=True)
    n = NumberAttribute(null=True)
    f = NumberAttribute(null=True)
    orders = NumberAttribute(null=True)
    recent_fen = ListAttribute[float](null=True)  # amounts of the latest orders, oldest first
    # One count and one amount per ten-minute slot of the day (top-level: DynamoDB's ADD
    # takes no nested path).
    for _slot in range(SLOTS_PER_DAY):
        locals()[slot_count(_slot)] = NumberAttribute(null=True)
        locals()[slot_fen(_slot)] = NumberAttribute(null=True)
    del _slot


STATS_PART = "all"


class RiskStats(Model):
    """Decision counts, one item each: a day's shard `stats#<day>#<shard>` (every decision adds
    to one, chosen by hash: `RISK_STATS_SHARDS`) or a closed day's roll-up `stats-day#<day>`
    (the sum of its shards, written once by its first reader: services/risk/stats.py); `part`
    is "all". Each counter is a top-level number named "outcome#<o>" or "rule#<id>" (rule ids
    are configuration, and DynamoDB's ADD takes no nested path): `counts` on a read item."""

    Meta = table_meta("risk-counters")

    key = UnicodeAttribute(hash_key=True)
    part = UnicodeAttribute(range_key=True)
    rolled_at = UnicodeAttribute(null=True)  # a roll-up's: when it was written

    counts: dict[str, int]

    @classmethod
    def from_raw_data(cls, data: dict[str, Any]) -> RiskStats:
        item = super().from_raw_data(data)
        item.counts = {name: int(value["N"]) for name, value in data.items() if "#" in name and "N" in value}
        return item


def stats_counter(name: str) -> Path:
    """The counter attribute "outcome#<o>" or "rule#<id>" (one path segment, whatever the id)."""
    return Path([name])


class ListsByName(GlobalSecondaryIndex["RiskListEntry"]):
    class Meta:
        index_name = "by_list"
        projection = AllProjection()

    list_name = UnicodeAttribute(hash_key=True)
    added_key = UnicodeAttribute(range_key=True)  # "<added_at>#<entry_id>"


class RiskListEntry(Model):
    """One block or allow list entry: the value only as a keyed hash (`entry_id` is derived
    from it, so the decision reads an entry by key and a value is listed once)."""

    Meta = table_meta("risk-lists")

    entry_id = UnicodeAttribute(hash_key=True)
    list_name = UnicodeAttribute()  # block | allow
    kind = UnicodeAttribute()  # user | device | card | address | phone
    hint = UnicodeAttribute()  # a masked hint for people (e.g. the last 4 digits)
    reason = UnicodeAttribute()
    added_by = UnicodeAttribute()
    added_at = UnicodeAttribute()
    added_key = UnicodeAttribute()

    by_list = ListsByName()


class ReviewsByStatus(GlobalSecondaryIndex["RiskDecision"]):
    """Review cases by status, oldest first (only `review` outcomes carry `review_status`)."""

    class Meta:
        index_name = "by_review_status"
        projection = AllProjection()

    review_status = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class RiskDecision(Model):
    """The decision on one 先用后付 confirmation (one per order), with what it saw."""

    Meta = table_meta("risk-decisions")

    decision_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    amount_fen = NumberAttribute()
    outcome = UnicodeAttribute()
    rules_version = UnicodeAttribute()
    inputs = JSONAttribute()  # {input name: int}
    reasons = JSONAttribute()  # [{rule_id, reason, outcome, observed: {input: value}, threshold: {input: value}}]
    created_at = UnicodeAttribute()
    created_key = UnicodeAttribute()
    review_status = UnicodeAttribute(null=True)
    review_due_at = UnicodeAttribute(null=True)
    decided_at = UnicodeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)
    decision_note = UnicodeAttribute(null=True)

    by_review_status = ReviewsByStatus()
