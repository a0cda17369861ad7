"""Pay now, payments and user notifications."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from .common import NOT_TRUE, TRUE, Body, PageQuery, View, example, one_of
from .kinds import Channel, NotificationKind, OrderStatus, PaymentStatus

NotificationId = Annotated[str, StringConstraints(pattern=r"^n_[0-9a-f]{24}$")]


class PayNowIn(Body):
    model_config = example({"channel": "card"}, {"channel": "alipay"})

    channel: Channel
    scope: Literal["next_part", "all"] = Field(
        default="next_part", description="installments: the next part, or everything left (payoff_fen)"
    )


class AlipayLaunch(View):
    """Alipay App payment: pass `order_string` to the Alipay SDK's payV2."""

    channel: Literal["alipay"]
    out_trade_no: str
    order_string: str


class WechatPayLaunch(View):
    """WeChat Pay App payment: the fields of the SDK's PayReq."""

    channel: Literal["wechat_pay"]
    out_trade_no: str
    appid: str
    partnerid: str
    prepayid: str
    package: str
    noncestr: str
    timestamp: str
    sign: str


# What the app opens the channel's SDK with, one schema per channel (`channel` tells which).
Launch = Annotated[AlipayLaunch | WechatPayLaunch, Field(discriminator="channel")]


class AlipayPayment(AlipayLaunch):
    amount_fen: int


class WechatPayPayment(WechatPayLaunch):
    amount_fen: int


class PayNowPayment(View):
    """Card or wallet: nothing to launch; the app pays with `POST pay_now`."""

    channel: Literal["card", "wallet"]
    amount_fen: int
    pay_now: str = Field(description="the path to POST {channel} to, with an Idempotency-Key")


# A confirmed channel order's payment, one schema per channel (`channel` tells which).
CheckoutPayment = Annotated[AlipayPayment | WechatPayPayment | PayNowPayment, Field(discriminator="channel")]


LAUNCH = "what the app passes to the Alipay / WeChat Pay SDK to pay in that app"


class PaymentView(View):
    payment_id: str
    order_id: str
    channel: Channel
    amount_fen: int
    currency: str
    status: PaymentStatus
    order_status: OrderStatus
    card_last4: str | None = None
    failure_code: str | None = None
    created_at: str
    settled_at: str | None = None
    launch: Launch | None = Field(default=None, description=LAUNCH)


class NotificationView(View):
    notification_id: str
    kind: NotificationKind
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
    # The document says what `one_of` enforces: one object schema per form.
    model_config = one_of(
        ("MarkNotificationsReadIn", {"notification_ids": None}, {"all": NOT_TRUE}),
        ("MarkAllReadIn", {"all": TRUE}),
        examples=[{"all": True}, {"notification_ids": ["n_0123456789abcdef01234567"]}],
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
