"""Merchant payouts: the payout account and the payouts list."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from .common import Body, ShortText, View, example
from .kinds import EventKind, PayoutStatus

AccountNumber = Annotated[str, StringConstraints(pattern=r"^[0-9 ]{8,40}$")]
AccountName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class PayoutAccountIn(Body):
    model_config = example(
        {"account_name": "示例商贸有限公司", "account_number": "6222020200112233446", "bank": "工商银行"}
    )

    account_name: AccountName
    account_number: AccountNumber
    bank: ShortText


class PayoutAccountView(View):
    """Never the account number: its last four digits and the bank."""

    account_name_masked: str
    last4: str
    bank: str
    updated_at: str


class PayoutEntryView(View):
    event_id: str
    kind: EventKind
    order_id: str | None
    amount_fen: int
    posted_at: str


class PayoutView(View):
    payout_id: str
    amount_fen: int
    currency: str
    status: PayoutStatus
    cutoff: str
    last4: str
    bank: str
    entries: list[PayoutEntryView]
    entry_count: int
    failure_reason: str | None = None
    created_at: str
    settled_at: str | None = None


class PayoutList(View):
    payable_fen: int
    items: list[PayoutView]
    next_cursor: str | None = None
