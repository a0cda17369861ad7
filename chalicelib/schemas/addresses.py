"""The address book."""

from __future__ import annotations

from .common import View, example
from .orders import AddressIn


class SavedAddressIn(AddressIn):
    """An address to save; `is_default: true` makes it the default (the first one is anyway)."""

    model_config = example(
        {"name": "张三", "phone": "13800138000", "line1": "建国路 1 号", "city": "北京"},
        {"name": "张三", "phone": "13800138000", "line1": "世纪大道 100 号", "city": "上海", "is_default": True},
    )

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
    next_cursor: str | None = None
