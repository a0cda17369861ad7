"""Shipment, receipt, returns, reviews and settlements."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from .common import NOT_BLANK, STRIP, TRACKING_NUMBER, Body, Id, PageQuery, View, example
from .kinds import Decision, EventKind, ReturnKind, ReturnStatus

Text = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=NOT_BLANK), STRIP]


class ShipmentIn(Body):
    model_config = example({"carrier": "SF", "tracking_number": "SF1234567890"})

    carrier: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=NOT_BLANK), STRIP]
    tracking_number: Annotated[str, StringConstraints(pattern=TRACKING_NUMBER)]


class ReturnLineIn(Body):
    sku_id: Id
    quantity: Annotated[int, Field(gt=0, le=999)]
    to_sku_id: Id | None = Field(default=None, description="exchange: the SKU wanted instead (same product and price)")


class ReturnRequestIn(Body):
    model_config = example(
        {"reason": "尺码不合适"},
        {"reason": "少发一件", "items": [{"sku_id": "sku_demo_tee_m", "quantity": 1}]},
        {"reason": "不想要了", "kind": "return_goods"},
        {
            "reason": "换个颜色",
            "kind": "exchange",
            "items": [{"sku_id": "sku_demo_tee_m", "quantity": 1, "to_sku_id": "sku_demo_tee_l"}],
        },
    )

    reason: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK), STRIP]
    items: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=50)] | None = None
    kind: ReturnKind = Field(
        default="refund_only",
        description="refund_only: money back on approval; return_goods: after the goods ship back and arrive; "
        "exchange: the goods ship back, the merchant reships the `to_sku_id` of each item",
    )


class ReturnDecisionIn(Body):
    model_config = example({"decision": "approve", "note": "同意"})

    decision: Decision
    note: Annotated[str, StringConstraints(max_length=200), STRIP] = ""


class ReviewIn(Body):
    model_config = example({"rating": 5, "text": "很好用"})

    rating: Annotated[int, Field(ge=1, le=5)]
    text: Text
    sku_id: Id | None = Field(default=None, description="one item of the order; all items when absent")


class MerchantOrdersQuery(PageQuery):
    status: str | None = Field(default=None, max_length=32)


class ReturnRequestsQuery(PageQuery):
    status: ReturnStatus | None = None


class ReturnLineView(View):
    sku_id: str
    name: str | None = Field(default=None, description="the product's name as bought")
    attributes: dict[str, str] = Field(default_factory=dict, description="the SKU's attributes as bought")
    quantity: int
    amount_fen: int
    to_sku_id: str | None = None
    to_attributes: dict[str, str] | None = Field(default=None, description="exchange: the replacement's attributes")


class ReturnRequestView(View):
    request_id: str
    order_id: str
    kind: ReturnKind = "refund_only"
    status: ReturnStatus
    reason: str
    items: list[ReturnLineView]
    amount_fen: int
    note: str | None = None
    created_at: str
    decided_at: str | None = None
    return_carrier: str | None = None
    return_tracking_number: str | None = None
    shipped_back_at: str | None = None
    arrived_at: str | None = None
    closed_at: str | None = None
    escalated_at: str | None = None
    reship_carrier: str | None = None
    reship_tracking_number: str | None = None
    reshipped_at: str | None = None
    exchanged_at: str | None = None


class ReturnRequestList(View):
    items: list[ReturnRequestView]
    next_cursor: str | None = None


class ReviewView(View):
    product_id: str
    order_id: str
    sku_id: str
    rating: int
    text: str = Field(description="exactly as sent; render it as text")
    created_at: str


class PublicReviewView(View):
    """A review as anyone sees it: no order id, nothing that names or traces the buyer."""

    product_id: str
    sku_id: str
    rating: int
    text: str = Field(description="exactly as sent; render it as text")
    created_at: str


class ReviewList(View):
    items: list[PublicReviewView]
    next_cursor: str | None = None


class ReviewsWritten(View):
    items: list[ReviewView]


class SettlementEntryView(View):
    event_id: str
    kind: EventKind
    order_id: str | None = Field(description="the order the entry is about (null for a payout's entries)")
    payout_id: str | None = Field(default=None, description="payout_sent / payout_returned: the payout")
    amount_fen: int
    posted_at: str


class SettlementsView(View):
    payable_fen: int
    items: list[SettlementEntryView]
    next_cursor: str | None = None
