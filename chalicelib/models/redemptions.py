"""Redemption (兑现) requests and the per-day counters that bound them."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from ..db import table_meta

PENDING = "pending"  # points held, waiting for the review queue
MANUAL_REVIEW = "manual_review"  # waiting for a reviewer
APPROVED = "approved"  # cash credited, held points consumed
REJECTED = "rejected"  # held points released
STATUSES = (PENDING, MANUAL_REVIEW, APPROVED, REJECTED)
OPEN = (PENDING, MANUAL_REVIEW)


class RedemptionsByUser(GlobalSecondaryIndex["Redemption"]):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)  # "<created_at>#<redemption_id>"


class RedemptionsByStatus(GlobalSecondaryIndex["Redemption"]):
    """Sparse: only undecided requests carry `open_status`, so the partition stays small."""

    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    open_status = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class Redemption(Model):
    Meta = table_meta("redemptions")

    redemption_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    created_key = UnicodeAttribute()
    amount_fen = NumberAttribute()
    points = NumberAttribute()
    status = UnicodeAttribute(default=PENDING)
    open_status = UnicodeAttribute(null=True)  # = status while pending / manual_review; removed once decided
    reason = UnicodeAttribute(null=True)  # why it went to manual review, or why it was rejected
    decided_at = UnicodeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)  # "auto" or the reviewer's user id
    decision_note = UnicodeAttribute(null=True)
    enqueue_due_at = UnicodeAttribute(null=True)  # the re-enqueue timer, while the send is unconfirmed
    updated_at = UnicodeAttribute()
    history = JSONAttribute(default=list)  # [{status, at, actor, reason?}]

    by_user = RedemptionsByUser()
    by_status = RedemptionsByStatus()


class RedemptionDay(Model):
    """How many requests and how much a user asked for on one (China-time) day."""

    Meta = table_meta("redemption_days", ttl="expires_at")

    user_day = UnicodeAttribute(hash_key=True)  # "<user_id>#<YYYY-MM-DD>"
    requests = NumberAttribute(default=0)
    amount_fen = NumberAttribute(default=0)
    expires_at = NumberAttribute(null=True)  # epoch seconds: DynamoDB's TTL removes old days
