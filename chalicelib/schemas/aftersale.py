"""Disputes (平台介入): escalation, support's queue, the whole case, the decision."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from .common import NOT_BLANK, STRIP, Body, PageQuery, View, example
from .fulfilment import ReturnRequestView
from .kinds import DisputeStatus
from .messages import MessageView
from .orders import OrderView


class DisputeIn(Body):
    model_config = example({"reason": "商家拒绝退货，但商品有质量问题", "request_id": "ret_0123456789abcdef0123"})

    reason: Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=NOT_BLANK), STRIP]
    # The return request to escalate (default: the latest escalable one of the order).
    request_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class DisputeDecisionIn(Body):
    model_config = example({"decision": "refund", "note": "商品有质量问题，平台退款"})

    decision: Literal["refund", "reject"]
    note: Annotated[str, StringConstraints(max_length=500), STRIP] = ""


class DisputesQuery(PageQuery):
    status: DisputeStatus | None = Field(default=None, description="default: open")


class DisputeView(View):
    dispute_id: str
    order_id: str
    request_id: str
    user_id: str
    merchant_id: str
    status: DisputeStatus
    reason: str
    amount_fen: int
    created_at: str
    decided_at: str | None = None
    decided_by: str | None = None
    note: str | None = None
    deadline_at: str | None = Field(default=None, description="support decides by then")
    late: bool = Field(default=False, description="undecided past its deadline (an alarm was raised)")
    late_at: str | None = None


class DisputeList(View):
    items: list[DisputeView]
    next_cursor: str | None = None


class SupportOrderView(View):
    order: OrderView = Field(description="with its history and shipment")
    return_requests: list[ReturnRequestView]
    disputes: list[DisputeView] = Field(description="newest first")
    messages: list[MessageView] = Field(description="newest first (the latest 100)")


class DisputeCaseView(View):
    dispute: DisputeView
    order: OrderView = Field(description="with its history")
    return_requests: list[ReturnRequestView]
    messages: list[MessageView] = Field(description="newest first (the latest 100)")
