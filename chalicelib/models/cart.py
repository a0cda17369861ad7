"""A consumer's cart: one item per SKU."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from ..db import table_meta


class CartItem(Model):
    Meta = table_meta("carts")

    user_id = UnicodeAttribute(hash_key=True)
    sku_id = UnicodeAttribute(range_key=True)
    quantity = NumberAttribute()
    selected = BooleanAttribute(default=True)  # checked out by `from_cart`
    added_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
