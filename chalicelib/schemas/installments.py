"""Installments (分期): quotes, an order's schedule, monthly bills."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .common import Body, Fen, Id, PositiveFen, View, example
from .kinds import Channel, FeePayer, PartStatus, PaymentStatus
from .payments import LAUNCH, Launch


class PlansQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_fen: PositiveFen
    product_id: Id | None = Field(default=None, description="a product whose 免息 terms apply")


class PlanView(View):
    plan: Literal["single", "installments"]
    parts: int
    fee_fen: Fen = Field(description="the plan's whole fee; paid by `fee_payer`")
    fee_payer: FeePayer
    apr_bps: int = Field(description="annualised rate (年化利率): 12 × the monthly IRR of the consumer's cash flows")
    parts_fen: list[int] = Field(description="what the consumer pays, part by part (remainder fen on part 1)")
    schedule_checksum: str = Field(description="send it back with the checkout; a stale one is 409 plan_changed")


class PlansView(View):
    plans: list[PlanView]


class PartView(View):
    seq: int
    due_at: str | None = Field(description="null until receipt")
    amount_fen: Fen
    principal_fen: Fen
    fee_fen: Fen
    fee_waived_fen: Fen = 0
    status: PartStatus
    paid_at: str | None = None


class InstallmentsView(View):
    order_id: str
    parts_count: int
    fee_fen: Fen
    fee_payer: FeePayer
    apr_bps: int
    parts: list[PartView]
    payoff_fen: Fen = Field(description="what paying everything now costs (the fee of months not begun waived)")


class BillLineView(View):
    order_id: str
    seq: int
    due_at: str
    amount_fen: Fen
    principal_fen: Fen
    fee_fen: Fen
    status: PartStatus


class BillView(View):
    month: str = Field(description="YYYY-MM, China time")
    lines: list[BillLineView]
    total_fen: Fen
    unpaid_fen: Fen


class BillPaymentIn(Body):
    model_config = example({"channel": "card"}, {"channel": "alipay"})

    channel: Literal["card", "alipay", "wechat_pay"]


class BillPaymentLineView(View):
    order_id: str
    seq: int
    amount_fen: Fen
    outcome: Literal["pending", "applied", "refunded", "refund_pending"] = Field(
        description="applied: it paid its part; refunded: the part was paid meanwhile (or paused), its amount went back"
    )


class BillPaymentView(View):
    payment_id: str
    month: str = Field(description="YYYY-MM, China time")
    channel: Channel
    amount_fen: Fen = Field(description="the one charge: the parts' amounts, locked when the payment started")
    currency: str
    status: PaymentStatus
    lines: list[BillPaymentLineView]
    refunded_fen: Fen = 0
    card_last4: str | None = None
    failure_code: str | None = None
    created_at: str
    settled_at: str | None = None
    launch: Launch | None = Field(default=None, description=LAUNCH)
