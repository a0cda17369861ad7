"""Pay now, payments and user notifications."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from .common import Body, PageQuery, View

NotificationId = Annotated[str, StringConstraints(pattern=r"^n_[0-9a-f]{24}$")]


class PayNowIn(Body):
    channel: Literal["card", "alipay", "wechat_pay", "wallet"]


class PaymentView(View):
    payment_id: str
    order_id: str
    channel: str
    amount_fen: int
    currency: str
    status: Literal["pending", "succeeded", "failed", "refunded"]
    order_status: str
    card_last4: str | None = None
    failure_code: str | None = None
    created_at: str
    settled_at: str | None = None
    launch: dict[str, Any] | None = Field(
        default=None, description="what the app passes to the Alipay / WeChat Pay SDK to pay in that app"
    )


class NotificationView(View):
    notification_id: str
    kind: str
    title: str
    body: str
    ref: str | None = None
    created_at: str
    read: bool
    read_at: str | None = None


class NotificationPageView(View):
    items: list[NotificationView]
    next_cursor: str | None = None
    unread_count: int


class NotificationQuery(PageQuery):
    pass


class MarkReadIn(Body):
    # The document says what `one_of` enforces, so clients and fuzzers see the rule.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["notification_ids"],
                    "properties": {"notification_ids": {"type": "array"}, "all": {"enum": [False, None]}},
                },
                {"required": ["all"], "properties": {"all": {"const": True}, "notification_ids": {"type": "null"}}},
            ]
        }
    )

    notification_ids: Annotated[list[NotificationId], Field(min_length=1, max_length=100)] | None = None
    all: bool | None = None

    @model_validator(mode="after")
    def one_of(self) -> MarkReadIn:
        if (self.notification_ids is None) == (self.all is not True):
            raise ValueError('send either "notification_ids" or "all": true')
        return self


class MarkReadView(View):
    marked: int
    unread_count: int
