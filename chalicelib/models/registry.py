"""Every PynamoDB model (table), for table creation in the local stack and tests."""

from __future__ import annotations

from pynamodb.models import Model


def all_models() -> list[type[Model]]:
    from .addresses import Address
    from .aftersale import Dispute, Refund, ReturnRequest, Review
    from .cart import CartItem
    from .catalog import Product, Sku
    from .coupons import Coupon
    from .idempotency import IdempotencyRecord
    from .jobstate import JobState
    from .ledger import Balance, Entry
    from .messages import OrderMessage
    from .notifications import Notification
    from .orders import Order
    from .payments import ChannelInbox, PaymentAttempt
    from .payouts import Payout, PayoutAccount
    from .redemptions import Redemption, RedemptionDay
    from .risk import RiskCounter, RiskDecision, RiskListEntry
    from .timers import Timer
    from .users import BankCard, Device, UniqueClaim, User
    from .webhooks import WebhookEndpoint, WebhookEvent

    return [
        User,
        BankCard,
        Device,
        UniqueClaim,
        IdempotencyRecord,
        Entry,
        Balance,
        Order,
        Timer,
        Coupon,
        ReturnRequest,
        Refund,
        Review,
        Product,
        Sku,
        CartItem,
        PaymentAttempt,
        ChannelInbox,
        Notification,
        Redemption,
        RedemptionDay,
        JobState,
        PayoutAccount,
        Payout,
        Address,
        OrderMessage,
        Dispute,
        RiskCounter,
        RiskListEntry,
        RiskDecision,
        WebhookEndpoint,
        WebhookEvent,
    ]
