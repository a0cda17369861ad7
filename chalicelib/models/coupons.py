"""Coupons a user holds: issued by reward rules, applied once at checkout."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from ..db import table_meta

AVAILABLE = "available"
RESERVED = "reserved"  # held by an unconfirmed or unpaid checkout
USED = "used"


class Coupon(Model):
    Meta = table_meta("coupons")

    user_id = UnicodeAttribute(hash_key=True)
    coupon_id = UnicodeAttribute(range_key=True)
    rule = UnicodeAttribute()  # which reward rule issued it (event id makes issuing idempotent)
    title = UnicodeAttribute()
    discount_fen = NumberAttribute()
    min_spend_fen = NumberAttribute()
    expires_at = UnicodeAttribute()
    status = UnicodeAttribute(default=AVAILABLE)
    order_id = UnicodeAttribute(null=True)
    issued_at = UnicodeAttribute()
    used_at = UnicodeAttribute(null=True)
