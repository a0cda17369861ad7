"""The closed sets a client switches on: statuses, kinds and channels, one Literal each.

Each is a named alias (`TypeAliasType`): the OpenAPI document declares it once, as a
component of its name that every use `$ref`s, so a generated client gets one enum type
per set (not one per field). A new value is added here first (tests/contract/test_openapi_contract.py finds every
`kind="..."` and notification kind in the services and checks it is listed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

from typing_extensions import TypeAliasType

from ..channels.base import CHANNELS
from ..models.aftersale import DISPUTE_STATUSES
from ..models.aftersale import STATUSES as RETURN_STATUSES
from ..models.orders import STATUSES
from ..models.payouts import STATUSES as PAYOUT_STATUSES


def values(alias: Any) -> tuple[str, ...]:
    """The strings a named Literal allows."""
    return tuple(get_args(alias.__value__))


if TYPE_CHECKING:
    OrderStatus: TypeAlias = str
else:  # the Literal of the one definition's values (models/orders.py `OrderStatus`)
    OrderStatus = TypeAliasType("OrderStatus", Literal[STATUSES])

PaymentMethod = TypeAliasType("PaymentMethod", Literal["bnpl", "alipay", "wechat_pay", "card", "wallet"])
Channel = TypeAliasType("Channel", Literal["card", "alipay", "wechat_pay", "wallet"])
assert set(values(Channel)) == set(CHANNELS)
PaymentStatus = TypeAliasType("PaymentStatus", Literal["pending", "succeeded", "failed", "refunded"])
PaymentPurpose = TypeAliasType("PaymentPurpose", Literal["pay_now", "checkout", "collection"])
RefundStatus = TypeAliasType("RefundStatus", Literal["pending", "succeeded", "failed"])
ReturnStatus = TypeAliasType(
    "ReturnStatus",
    Literal[
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
    ],
)
assert set(values(ReturnStatus)) == set(RETURN_STATUSES)
Decision = TypeAliasType("Decision", Literal["approve", "reject"])  # a merchant's or a reviewer's answer
ReturnKind = TypeAliasType("ReturnKind", Literal["refund_only", "return_goods", "exchange"])
DisputeStatus = TypeAliasType("DisputeStatus", Literal["open", "refunded", "rejected"])
assert set(values(DisputeStatus)) == set(DISPUTE_STATUSES)
RedemptionStatus = TypeAliasType("RedemptionStatus", Literal["pending", "manual_review", "approved", "rejected"])
BnplStatus = TypeAliasType("BnplStatus", Literal["inactive", "active", "frozen"])
CouponStatus = TypeAliasType("CouponStatus", Literal["available", "reserved", "used", "expired"])
EndpointStatus = TypeAliasType("EndpointStatus", Literal["enabled", "disabled"])  # a merchant's webhook endpoint
# Installments (分期): who pays a plan's fee, and where each part stands.
FeePayer = TypeAliasType("FeePayer", Literal["consumer", "merchant"])
PartStatus = TypeAliasType("PartStatus", Literal["scheduled", "due", "paid", "overdue", "waived", "refunded"])
# Risk decisions (风控): an outcome, a review's status, and the lists' names and kinds.
RiskOutcome = TypeAliasType("RiskOutcome", Literal["approve", "review", "decline"])
RiskReviewStatus = TypeAliasType("RiskReviewStatus", Literal["pending", "approved", "declined", "expired"])
RiskListName = TypeAliasType("RiskListName", Literal["block", "allow"])
RiskListKind = TypeAliasType("RiskListKind", Literal["user", "device", "card", "address", "phone"])
PayoutStatus = TypeAliasType("PayoutStatus", Literal["sending", "paid", "failed"])
assert set(values(PayoutStatus)) == set(PAYOUT_STATUSES)

# What happened at each step of an order's history (HistoryView.event).
HistoryEvent = TypeAliasType(
    "HistoryEvent",
    Literal[
        "checked_out",
        "held_for_risk_review",
        "confirmed",
        "paid",
        "shipped",
        "received",
        "completed",
        "cancelled",
        "payment_overdue",
        "returned",
        "return_requested",
        "return_approved",
        "return_rejected",
        "return_shipped_back",
        "return_arrived",
        "return_closed",
        "replacement_shipped",
        "replacement_received",
        "dispute_opened",
        "dispute_refunded",
        "dispute_rejected",
    ],
)

NotificationKind = TypeAliasType(
    "NotificationKind",
    Literal[
        "payment_succeeded",
        "payment_failed",
        "payment_refunded",
        "payment_overdue",
        "payment_due_soon",
        "risk_decided",
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
        "return_completed",
        "webhook_endpoint_disabled",
    ],
)

# The books of a user's wallet (WalletEntry.book): `points*` count points, the others fen.
WalletBook = TypeAliasType(
    "WalletBook", Literal["credit_used", "cash", "points", "points_held", "points_owed", "installment_fee_owed"]
)

# Ledger event kinds: all legs of one event share it.
EventKind = TypeAliasType(
    "EventKind",
    Literal[
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
        "bill_part_applied",
        "bill_part_excluded",
    ],
)
