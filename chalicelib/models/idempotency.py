"""Stored outcomes of money-moving POSTs, keyed per user, route and Idempotency-Key."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from ..db import table_meta

IN_FLIGHT = "in_flight"
DONE = "done"


class IdempotencyRecord(Model):
    Meta = table_meta("idempotency", ttl="expires_at")

    key = UnicodeAttribute(hash_key=True)
    request_hash = UnicodeAttribute()
    state = UnicodeAttribute()
    locked_until = NumberAttribute()
    expires_at = NumberAttribute()  # DynamoDB TTL attribute (epoch seconds)
    response_status = NumberAttribute(null=True)
    response_body = UnicodeAttribute(null=True)
    response_content_type = UnicodeAttribute(null=True)
    # The body is encrypted (pii.encrypt, bound to `key`): the answer holds a secret shown once
    response_sealed = BooleanAttribute(null=True)
