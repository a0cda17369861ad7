"""Checkout, confirmation and orders."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator
from pydantic.config import JsonDict

from ..models.orders import MAX_CHECKOUT_LINES
from .catalog import Quantity
from .common import NOT_BLANK, NOT_TRUE, STRIP, TRUE, Body, Id, PageQuery, View, one_of
from .kinds import Channel, HistoryEvent, OrderStatus, PaymentMethod, PaymentPurpose, PaymentStatus, RefundStatus
from .payments import CheckoutPayment

__all__ = ["OrderStatus", "PaymentMethod"]


class LineIn(Body):
    sku_id: Id
    quantity: Quantity


class AddressIn(Body):
    name: Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=NOT_BLANK), STRIP]
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 \-]{4,19}$")]
    line1: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK), STRIP]
    city: Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=NOT_BLANK), STRIP]


class InstallmentsIn(Body):
    parts: int = Field(ge=2, le=36, description="an offered plan's part count (GET /v1/bnpl/plans)")
    schedule_checksum: str = Field(min_length=1, max_length=64, description="the quote's `schedule_checksum`")


class CheckoutIn(Body):
    """Either `items` (buy now) or `"from_cart": true` (the selected cart lines)."""

    # The document says what `one_source` enforces: one object schema per way of buying
    # (items or the cart) and of addressing (a new address or one from the address book).
    model_config = one_of(
        ("CheckoutItemsIn", {"items": None, "address": None}, {"from_cart": NOT_TRUE}),
        ("CheckoutCartIn", {"from_cart": TRUE, "address": None}),
        ("CheckoutItemsSavedAddressIn", {"items": None, "address_id": None}, {"from_cart": NOT_TRUE}),
        ("CheckoutCartSavedAddressIn", {"from_cart": TRUE, "address_id": None}),
        examples=[
            {
                "from_cart": True,
                "payment_method": "bnpl",
                "address": {"name": "张三", "phone": "13800138000", "line1": "建国路 1 号", "city": "北京"},
            },
            {
                "items": [{"sku_id": "sku_demo_case_black", "quantity": 1}],
                "payment_method": "alipay",
                "address": {"name": "张三", "phone": "13800138000", "line1": "建国路 1 号", "city": "北京"},
            },
            {"from_cart": True, "payment_method": "bnpl", "address_id": "addr_0123456789abcdef"},
        ],
    )

    items: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_CHECKOUT_LINES)] | None = None
    from_cart: bool | None = None
    payment_method: PaymentMethod
    coupon_id: Id | None = None
    address: AddressIn | None = Field(default=None, description="or `address_id` from the address book")
    address_id: Id | None = None
    installments: InstallmentsIn | None = Field(default=None, description="先用后付 in parts (分期), as quoted")

    @model_validator(mode="after")
    def one_source(self) -> Self:
        if (self.items is not None) == bool(self.from_cart):
            raise ValueError('give either "items" or "from_cart": true')
        if (self.address is None) == (self.address_id is None):
            raise ValueError('give either "address" or "address_id"')
        return self


DEVICE_ID_PATTERN = r"^[A-Za-z0-9_\-]{4,64}$"
# With the password, `device_id` is optional: the device the app runs on (the risk rules count
# every confirmation against its device; naming none, the device registered last is taken).
DEVICE_ID_OPTIONAL: JsonDict = {
    "anyOf": [{"type": "string", "pattern": DEVICE_ID_PATTERN}, {"type": "null"}],
    "default": None,
    "description": "the device the app runs on (counted by the risk rules; need not be registered)",
}


class ConfirmationIn(Body):
    """The payment password (and the device it is typed on), or a device signature over the
    challenge's nonce."""

    # The document says what `one_method` enforces: one object schema per method.
    model_config = one_of(
        ("PasswordConfirmationIn", {"password": None}, {"device_id": DEVICE_ID_OPTIONAL}),
        ("DeviceConfirmationIn", {"device_id": None, "signature": None}),
        examples=[
            {"challenge_id": "ch_0123456789abcdef", "password": "135790", "device_id": "iphone-01"},
            {"challenge_id": "ch_0123456789abcdef", "device_id": "iphone-01", "signature": "MEUCIQDx…(base64)"},
        ],
    )

    challenge_id: Id
    password: Annotated[str, StringConstraints(pattern=r"^\d{6}$")] | None = None
    device_id: Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)] | None = None
    signature: Annotated[str, StringConstraints(min_length=8, max_length=400)] | None = Field(
        default=None, description="base64 DER ECDSA-SHA256 over the nonce's UTF-8 bytes"
    )

    @model_validator(mode="after")
    def one_method(self) -> Self:
        by_device = self.signature is not None
        if (self.password is not None) == by_device or (by_device and not self.device_id):
            raise ValueError('give either "password" (and "device_id" if known) or both "device_id" and "signature"')
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
    status: OrderStatus
    payment_method: PaymentMethod
    subtotal_fen: int
    discount_fen: int
    total_fen: int
    challenge: ChallengeView


class CheckoutView(View):
    orders: list[CheckoutOrderView]


class ConfirmationView(View):
    order_id: str
    status: OrderStatus
    total_fen: int
    credit_reserved_fen: int
    payment: CheckoutPayment | None = Field(default=None, description="what the app needs to open the channel")
    message: str | None = Field(
        default=None, description="for an order held for a risk check (202, `risk_review`): what the buyer is told"
    )


class OrderItemView(View):
    sku_id: str
    product_id: str
    name: str
    attributes: dict[str, str]
    unit_price_fen: int
    quantity: int
    line_total_fen: int


class HistoryView(View):
    status: OrderStatus = Field(description="the order's status after this step")
    event: HistoryEvent = Field(description="what happened (a step may leave the status as it was)")
    at: str
    actor: str = Field(
        description="who did it: user:<id>, merchant:<id>, support:<id>, channel:<channel> or system",
        json_schema_extra={"pattern": "^(system|(user|merchant|support|channel):.+)$"},
    )
    note: str | None = Field(default=None, description="the person's own words, as sent (a reason, a decision note)")


class AddressView(View):
    name: str
    phone: str
    line1: str
    city: str


class ShipmentView(View):
    carrier: str
    tracking_number: str
    shipped_at: str


class OrderPaymentView(View):
    payment_id: str
    channel: Channel
    purpose: PaymentPurpose = Field(
        description="checkout: paid at checkout; pay_now: 先用后付 paid early; collection: auto-debit"
    )
    amount_fen: int
    currency: str
    status: PaymentStatus
    refunded_fen: int = Field(description="what went back through the channel (a payment the order no longer needed)")
    card_last4: str | None = Field(default=None, description="the buyer's view only")
    created_at: str
    settled_at: str | None = None


class OrderRefundView(View):
    refund_id: str
    reason: Literal["return", "cancellation"]
    channel: Channel
    amount_fen: int
    currency: str
    status: RefundStatus
    created_at: str
    settled_at: str | None = None


class OrderView(View):
    order_id: str
    checkout_id: str
    merchant_id: str
    status: OrderStatus
    payment_method: PaymentMethod
    items: list[OrderItemView]
    subtotal_fen: int
    discount_fen: int
    total_fen: int
    credit_reserved_fen: int
    coupon_id: str | None = None
    address: AddressView
    shipment: ShipmentView | None = Field(default=None, description="once the merchant shipped: carrier and tracking")
    received_at: str | None = Field(default=None, description="when receipt was confirmed (by hand or automatically)")
    history: list[HistoryView]
    challenge: ChallengeView | None = Field(default=None, description="while awaiting confirmation")
    payment_expires_at: str | None = None
    due_at: str | None = None
    amount_due_fen: int = Field(default=0, description="先用后付: what is still owed (0 once paid)")
    paid_at: str | None = None
    paid_channel: Channel | None = None
    paid_on_time: bool | None = Field(default=None, description="先用后付: paid in its window (not overdue)")
    collection_attempts: int = Field(default=0, description="先用后付: auto-debit charges made so far")
    currency: str
    refunded_fen: int = Field(
        description="value of the goods returned so far: money refunded (see refunds) or, on an unpaid "
        "先用后付 order, credit released"
    )
    payments: list[OrderPaymentView] = Field(description="every payment attempt on the order, oldest first")
    refunds: list[OrderRefundView] = Field(description="money owed back through the channel that paid, oldest first")
    created_at: str
    updated_at: str


class OrderSummaryView(View):
    order_id: str
    merchant_id: str
    status: OrderStatus
    payment_method: PaymentMethod
    total_fen: int
    item_count: int
    created_at: str
    due_at: str | None = None


class OrderList(View):
    items: list[OrderSummaryView]
    next_cursor: str | None = None
