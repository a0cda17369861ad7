"""The address book."""

from __future__ import annotations

from .common import View
from .orders import AddressIn


class SavedAddressIn(AddressIn):
    """An address to save; `is_default: true` makes it the default (the first one is anyway)."""

    is_default: bool | None = None


class SavedAddressView(View):
    address_id: str
    name: str
    phone: str
    line1: str
    city: str
    is_default: bool
    created_at: str
    updated_at: str


class AddressBookView(View):
    items: list[SavedAddressView]
    default_address_id: str | None = None
