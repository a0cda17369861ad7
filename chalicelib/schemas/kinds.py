"""The closed sets a client switches on: statuses, kinds and channels, one Literal each.

Responses declare these as enums in the OpenAPI document, so a generated client gets an
enum type. A new value is added here first (tests/test_openapi_contract.py finds every
`kind="..."` and notification kind in the services and checks it is listed).
"""

from __future__ import annotations

from typing import Literal

from ..channels.base import CHANNELS
from ..models.aftersale import DISPUTE_STATUSES
from ..models.aftersale import STATUSES as RETURN_STATUSES
from ..models.orders import STATUSES
from ..models.payouts import STATUSES as PAYOUT_STATUSES

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

PaymentMethod = Literal["bnpl", "alipay", "wechat_pay", "card", "wallet"]
Channel = Literal["card", "alipay", "wechat_pay", "wallet"]
assert set(Channel.__args__) == set(CHANNELS)  # type: ignore[attr-defined]
PaymentStatus = Literal["pending", "succeeded", "failed", "refunded"]
ReturnStatus = Literal[
    "pending",
    "approved",
    "rejected",
    "awaiting_return",
    "returning",
    "refunded",
    "closed",
    "disputed",
    "awaiting_reshipment",
    "reshipped",
    "exchanged",
]
assert set(ReturnStatus.__args__) == set(RETURN_STATUSES)  # type: ignore[attr-defined]
ReturnKind = Literal["refund_only", "return_goods", "exchange"]
DisputeStatus = Literal["open", "refunded", "rejected"]
assert set(DisputeStatus.__args__) == set(DISPUTE_STATUSES)  # type: ignore[attr-defined]
RedemptionStatus = Literal["pending", "manual_review", "approved", "rejected"]
BnplStatus = Literal["inactive", "active", "frozen"]
CouponStatus = Literal["available", "reserved", "used", "expired"]
PayoutStatus = Literal["sending", "paid", "failed"]
assert set(PayoutStatus.__args__) == set(PAYOUT_STATUSES)  # type: ignore[attr-defined]

NotificationKind = Literal[
    "payment_succeeded",
    "payment_failed",
    "payment_refunded",
    "payment_overdue",
    "payment_due_soon",
    "redemption_approved",
    "redemption_rejected",
    "redemption_manual_review",
    "order_message",
    "dispute_opened",
    "dispute_decided",
    "order_shipped",
    "return_requested",
    "return_answered",
    "return_shipped_back",
    "replacement_shipped",
    "webhook_endpoint_disabled",
]

# Ledger event kinds: all legs of one event share it.
EventKind = Literal[
    "credit_reserved",
    "credit_released",
    "credit_repaid",
    "merchant_settlement",
    "merchant_settlement_reversed",
    "payout_sent",
    "payout_paid",
    "payout_returned",
    "payment_received",
    "payment_refunded",
    "points_earned",
    "points_reversed",
    "points_forfeited",
    "redemption_held",
    "redemption_credited",
    "redemption_points_consumed",
    "redemption_released",
    "installment_fee_charged",
    "installment_fee_paid",
    "installment_fee_waived",
    "merchant_installment_fee",
]
