"""The address book: a user's saved delivery addresses (PII: never logged)."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from ..db import table_meta


class Address(Model):
    """One saved address. Which one is the default is `User.default_address_id` (one
    pointer, so there can never be two defaults); `User.address_count` caps the book."""

    Meta = table_meta("addresses")

    user_id = UnicodeAttribute(hash_key=True)
    address_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    phone = UnicodeAttribute()
    line1 = UnicodeAttribute()
    city = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    def fields(self) -> dict[str, str]:
        """The address as an order keeps its copy of it."""
        return {"name": self.name, "phone": self.phone, "line1": self.line1, "city": self.city}
