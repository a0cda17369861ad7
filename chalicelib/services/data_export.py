"""PIPL: a user's data export. Every table holding a user's data is a section, read by the
user's keys (never a scan) and paged like every list, across sections with one sealed cursor
(`export_page`) or one section alone (`section_page`); the full ID and card numbers are never
held, so never exported (masked forms and last four digits are); the real name is the user's
own and is exported in full. A model that carries a user key must be a section or be listed
in `NOT_EXPORTED` with the reason (tests/api/test_privacy.py fails otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from .. import errors, ledger, pii
from ..models.addresses import Address
from ..models.aftersale import Dispute, Refund, ReturnRequest, Review, return_refund_id
from ..models.cart import CartItem
from ..models.coupons import Coupon
from ..models.idempotency import IdempotencyRecord
from ..models.jobstate import JobState
from ..models.ledger import Balance, Entry
from ..models.messages import OrderMessage
from ..models.notifications import Notification
from ..models.orders import Order
from ..models.payments import ChannelInbox, PaymentAttempt
from ..models.payouts import Payout, PayoutAccount
from ..models.redemptions import Redemption, RedemptionDay
from ..models.risk import RiskCounter, RiskDecision, RiskListEntry
from ..models.timers import Timer
from ..models.users import BankCard, Device, UniqueClaim, User
from ..models.webhooks import WebhookEvent

Page = tuple[list[dict[str, Any]], dict[str, Any] | None]
EXPORT_ERRORS = errors.raises(bad_request=["invalid_cursor"], not_found=["not_found"])
# Never exported: secrets and the gateway's tokens (usable to charge), challenge nonces.
SECRET_FIELDS = frozenset(
    {
        "real_name_cipher",
        "id_number_cipher",
        "id_number_hash",
        "password_hash",
        "gateway_token",
        "instrument_token",
        "challenge_nonce",
        "account_name_cipher",
    }
)


def _doc(item: Model) -> dict[str, Any]:
    return {k: v for k, v in sorted(item.attribute_values.items()) if k not in SECRET_FIELDS}


def _query(fn: Callable[..., Any], *args: Any, **kw: Any) -> Callable[[int, dict[str, Any] | None], Page]:
    def page(limit: int, last_key: dict[str, Any] | None) -> Page:
        result = fn(*args, limit=limit, last_evaluated_key=last_key, **kw)
        return [_doc(x) for x in result], result.last_evaluated_key

    return page


def _per_order(fetch: Callable[[Order], Iterable[Model]], user_id: str) -> Callable[[int, Any], Page]:
    """A section found through the user's orders (payment attempts, reviews, messages): their
    items order by order, at most `limit` a page. The cursor names the order to resume at
    (the index key of the one before it) and how many of its items were already sent; an
    order's items are sorted, so a page resumes where the last one stopped."""

    def page(limit: int, last_key: dict[str, Any] | None) -> Page:
        resume = last_key or {}
        after, skip = resume.get("after"), resume.get("skip", 0)
        if not (after is None or isinstance(after, dict)) or type(skip) is not int or skip < 0:
            raise errors.bad_request("invalid_cursor", "the cursor is not one this list issued")
        items: list[dict[str, Any]] = []
        for order in Order.by_user.query(user_id, last_evaluated_key=after, page_size=max(limit, 10)):
            docs = sorted((_doc(x) for x in fetch(order)), key=_stable)[skip:]
            room = limit - len(items)
            if len(docs) > room:
                return [*items, *docs[:room]], {"after": after, "skip": skip + room}
            items += docs
            after, skip = _order_index_key(order), 0
            if len(items) == limit:
                return items, {"after": after, "skip": 0}
        return items, None

    return page


def _stable(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, default=str)


def _order_index_key(order: Order) -> dict[str, Any]:
    """The `by_user` index key of an order, as DynamoDB hands back a last key."""
    return {
        "user_id": {"S": order.user_id},
        "created_key": {"S": order.created_key},
        "order_id": {"S": order.order_id},
    }


def _reviews(order: Order) -> Iterable[Review]:
    lines = [line for line in order.items or [] if line.get("product_id") and line.get("sku_id")]
    keys = [(line["product_id"], f"{order.order_id}#{line['sku_id']}") for line in lines]
    return Review.batch_get(keys) if keys else []


def _profile(user_id: str) -> Callable[[int, Any], Page]:
    def page(limit: int, last_key: dict[str, Any] | None) -> Page:
        try:
            user = User.get(user_id, consistent_read=True)
        except DoesNotExist:
            return [], None
        profile = _doc(user)
        if user.real_name_cipher:  # the user's own name, in full (only ID and card numbers are masked)
            profile["real_name"] = pii.decrypt(user.real_name_cipher, f"name:{user_id}")
        return [profile], None

    return page


def sections(user_id: str) -> dict[str, Callable[[int, dict[str, Any] | None], Page]]:
    """Every section of a user's export, in order, each read by the user's keys."""
    account = ledger.user_account(user_id)
    return {
        "profile": _profile(user_id),
        "bank_cards": _query(BankCard.query, user_id),
        "devices": _query(Device.query, user_id),
        "addresses": _query(Address.query, user_id),
        "orders": _query(Order.by_user.query, user_id),
        "payment_attempts": _per_order(lambda order: PaymentAttempt.by_order.query(order.order_id), user_id),
        "return_requests": _query(ReturnRequest.by_user.query, user_id),
        "refunds": _per_order(lambda order: refunds_of(order), user_id),
        "reviews": _per_order(_reviews, user_id),
        "order_messages": _per_order(lambda order: OrderMessage.query(order.order_id), user_id),
        "disputes": _per_order(lambda order: Dispute.by_order.query(order.order_id), user_id),
        "wallet_balances": _query(Balance.query, account),
        "wallet_entries": _query(Entry.by_time.query, account),
        "redemptions": _query(Redemption.by_user.query, user_id),
        "coupons": _query(Coupon.query, user_id),
        "cart": _query(CartItem.query, user_id),
        "notifications": _query(Notification.query, user_id),
    }


def refunds_of(order: Order) -> Iterable[Refund]:
    requests = ReturnRequest.by_user.query(order.user_id)
    keys = [return_refund_id(r.request_id) for r in requests if r.order_id == order.order_id]
    return Refund.batch_get(keys) if keys else []


# Models read by each section (what the completeness test checks against the registry).
EXPORTED: dict[type[Model], str] = {
    User: "profile",
    BankCard: "bank_cards",
    Device: "devices",
    Address: "addresses",
    Order: "orders",
    PaymentAttempt: "payment_attempts",
    ReturnRequest: "return_requests",
    Refund: "refunds",
    Review: "reviews",
    OrderMessage: "order_messages",
    Dispute: "disputes",
    Balance: "wallet_balances",
    Entry: "wallet_entries",
    Redemption: "redemptions",
    Coupon: "coupons",
    CartItem: "cart",
    Notification: "notifications",
}
NOT_EXPORTED: dict[type[Model], str] = {
    UniqueClaim: "the keyed hash of the ID number (uniqueness only); the export shows the masked ID",
    RedemptionDay: "daily counters derived from the redemptions section (expire by TTL)",
    IdempotencyRecord: "replay copies of responses already shown to the user (expire within a day by TTL)",
    Timer: "scheduling keys about orders and accounts, no personal data",
    ChannelInbox: "channel notification de-duplication keys",
    JobState: "job watermarks",
    PayoutAccount: "merchants' payout accounts (a business, not a consumer)",
    Payout: "merchants' payouts (a business, not a consumer)",
    WebhookEvent: "the merchant's webhook log: copies of orders, returns, disputes and messages (each exported"
    " in its own section) as sent to the merchant, kept 30 days; closure erases the address and message text"
    " in them like in the originals, the retention purge deletes them (found by order, never a scan)",
    RiskDecision: "fraud-prevention decisions: the rules and their inputs are not disclosed to the buyer "
    "(SPEC 'Risk decisions'); each outcome shows as its order's status",
    RiskCounter: "fraud-prevention velocity counters and order amounts, pseudonymous",
    RiskListEntry: "block/allow list entries: keyed hashes only, kept by the platform",
}


def export_page(user_id: str, section: int, last_key: dict[str, Any] | None, limit: int) -> tuple[dict[str, Any], Any]:
    """Up to `limit` items from section `section` on; returns (data, (section, key) or None)."""
    names = list(sections(user_id).items())
    data: dict[str, list[dict[str, Any]]] = {}
    left = limit
    while section < len(names) and left > 0:
        name, page = names[section]
        items, last_key = page(left, last_key)
        data.setdefault(name, []).extend(items)
        left -= max(len(items), 1)
        if last_key is None:
            section += 1
    return data, ((section, last_key) if section < len(names) else None)


def section_page(user_id: str, name: str, last_key: dict[str, Any] | None, limit: int) -> Page:
    """One page of one section (a list like every other: items, then the key to go on from)."""
    page = sections(user_id).get(name)
    if page is None:
        raise errors.not_found("not_found", "no such export section")
    return page(limit, last_key)
