"""Checkout, confirmation and orders."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from ..models.orders import STATUSES
from ..services.checkout import MAX_CHECKOUT_LINES
from .catalog import Quantity
from .common import NOT_BLANK, STRIP, Body, Id, PageQuery, View

PaymentMethod = Literal["bnpl", "alipay", "wechat_pay", "card", "wallet"]
OrderStatus = Literal[
    "awaiting_confirmation",
    "awaiting_payment",
    "placed",
    "paid",
    "shipped",
    "received",
    "completed",
    "cancelled",
    "return_requested",
    "returned",
    "overdue",
]
assert set(OrderStatus.__args__) == set(STATUSES)  # type: ignore[attr-defined]


class LineIn(Body):
    sku_id: Id
    quantity: Quantity


class AddressIn(Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=NOT_BLANK), STRIP]
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 \-]{4,19}$")]
    line1: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK), STRIP]
    city: Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=NOT_BLANK), STRIP]


class CheckoutIn(Body):
    """Either `items` (buy now) or `"from_cart": true` (the selected cart lines)."""

    # The document says what `one_source` enforces, so clients and fuzzers see the rule.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "oneOf": [
                        {
                            "required": ["items"],
                            "properties": {"items": {"type": "array"}, "from_cart": {"enum": [False, None]}},
                        },
                        {
                            "required": ["from_cart"],
                            "properties": {"from_cart": {"const": True}, "items": {"type": "null"}},
                        },
                    ]
                },
                {
                    "oneOf": [
                        {
                            "required": ["address"],
                            "properties": {"address": {"type": "object"}, "address_id": {"type": "null"}},
                        },
                        {
                            "required": ["address_id"],
                            "properties": {"address_id": {"type": "string"}, "address": {"type": "null"}},
                        },
                    ]
                },
            ]
        }
    )

    items: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_CHECKOUT_LINES)] | None = None
    from_cart: bool | None = None
    payment_method: PaymentMethod
    coupon_id: Id | None = None
    address: AddressIn | None = Field(default=None, description="or `address_id` from the address book")
    address_id: Id | None = None

    @model_validator(mode="after")
    def one_source(self) -> Self:
        if (self.items is not None) == bool(self.from_cart):
            raise ValueError('give either "items" or "from_cart": true')
        if (self.address is None) == (self.address_id is None):
            raise ValueError('give either "address" or "address_id"')
        return self


class ConfirmationIn(Body):
    """The payment password, or a device signature over the challenge's nonce."""

    # The document says what `one_method` enforces, so clients and fuzzers see the rule.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["password"],
                    "properties": {
                        "password": {"type": "string"},
                        "device_id": {"type": "null"},
                        "signature": {"type": "null"},
                    },
                },
                {
                    "required": ["device_id", "signature"],
                    "properties": {
                        "password": {"type": "null"},
                        "device_id": {"type": "string"},
                        "signature": {"type": "string"},
                    },
                },
            ]
        }
    )

    challenge_id: Id
    password: Annotated[str, StringConstraints(pattern=r"^\d{6}$")] | None = None
    device_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{4,64}$")] | None = None
    signature: Annotated[str, StringConstraints(min_length=8, max_length=400)] | None = Field(
        default=None, description="base64 DER ECDSA-SHA256 over the nonce's UTF-8 bytes"
    )

    @model_validator(mode="after")
    def one_method(self) -> Self:
        by_device = self.device_id is not None or self.signature is not None
        if (self.password is not None) == by_device or (by_device and not (self.device_id and self.signature)):
            raise ValueError('give either "password" or both "device_id" and "signature"')
        return self


class OrdersQuery(PageQuery):
    status: OrderStatus | None = None


class ChallengeView(View):
    challenge_id: str
    nonce: str
    expires_at: str


class CheckoutOrderView(View):
    order_id: str
    merchant_id: str
    status: str
    payment_method: str
    subtotal_fen: int
    discount_fen: int
    total_fen: int
    challenge: ChallengeView


class CheckoutView(View):
    orders: list[CheckoutOrderView]


class ConfirmationView(View):
    order_id: str
    status: str
    total_fen: int
    credit_reserved_fen: int
    payment: dict[str, Any] | None = Field(default=None, description="what the app needs to open the channel")


class OrderItemView(View):
    sku_id: str
    product_id: str
    name: str
    attributes: dict[str, str]
    unit_price_fen: int
    quantity: int
    line_total_fen: int


class HistoryView(View):
    status: str
    at: str
    actor: str
    note: str | None = None


class AddressView(View):
    name: str
    phone: str
    line1: str
    city: str


class OrderView(View):
    order_id: str
    checkout_id: str
    merchant_id: str
    status: str
    payment_method: str
    items: list[OrderItemView]
    subtotal_fen: int
    discount_fen: int
    total_fen: int
    credit_reserved_fen: int
    coupon_id: str | None = None
    address: AddressView
    history: list[HistoryView]
    challenge: ChallengeView | None = Field(default=None, description="while awaiting confirmation")
    payment_expires_at: str | None = None
    due_at: str | None = None
    amount_due_fen: int = Field(default=0, description="先用后付: what is still owed (0 once paid)")
    paid_at: str | None = None
    paid_channel: str | None = None
    paid_on_time: bool | None = Field(default=None, description="先用后付: paid in its window (not overdue)")
    collection_attempts: int = Field(default=0, description="先用后付: auto-debit charges made so far")
    created_at: str
    updated_at: str


class OrderSummaryView(View):
    order_id: str
    merchant_id: str
    status: str
    payment_method: str
    total_fen: int
    item_count: int
    created_at: str
    due_at: str | None = None


class OrderList(View):
    items: list[OrderSummaryView]
    next_cursor: str | None = None
