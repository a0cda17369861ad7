"""The only code that writes wallet entries.

Every business event posts balanced legs (they sum to zero) inside the caller's
transaction, together with the stored-balance updates they imply, so a state change and
its money movement commit or fail as one. An event posts once: each leg's key is
`<event_id>#<book>` under its account, written only if absent.

Accounts and books:
- `user#<id>`: `credit_used` (先用后付 credit in use; bounded by the limit), `cash` (wallet
  balance), `points`, `points_held` (points held by a pending redemption).
- `merchant#<id>`: `payable` (what the platform owes the merchant).
- `platform` (sharded on write): contra books - `credit_extended`, `clearing_<channel>`,
  `fee_revenue`, `merchant_funding`, `points_issued`, `rewards_expense`, `refunds`,
  `consumer_payments` (what consumers paid from outside the wallet: card, Alipay, WeChat
  Pay; the contra of `clearing_<channel>` when a channel order is paid, see
  `services/payments.py`).
Stored balances exist for user and merchant books; platform books are derived only
(a single platform balance item would be every write's hot key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pynamodb.expressions.update import Action

from . import errors
from .clock import iso
from .config import settings
from .db import Tx
from .models.ledger import Balance, Entry

PLATFORM = "platform"
CREDIT = "credit_used"
CASH = "cash"
POINTS = "points"
POINTS_HELD = "points_held"
PAYABLE = "payable"
STORED_BOOKS = frozenset({CREDIT, CASH, POINTS, POINTS_HELD, PAYABLE})


def user_account(user_id: str) -> str:
    return f"user#{user_id}"


def merchant_account(merchant_id: str) -> str:
    return f"merchant#{merchant_id}"


@dataclass(frozen=True)
class Leg:
    account: str
    book: str
    amount: int


def _shard(event_id: str, shards: int) -> int:
    return int(hashlib.sha256(event_id.encode()).hexdigest()[:8], 16) % shards


def physical_account(account: str, event_id: str) -> str:
    if account == PLATFORM:
        return f"{PLATFORM}#{_shard(event_id, settings().rules.ledger_shards):02d}"
    return account


def hour_bucket(at: datetime, key: str) -> str:
    return f"{at.strftime('%Y%m%d%H')}#{_shard(key, settings().rules.ledger_shards):02d}"


def post(
    tx: Tx,
    *,
    event_id: str,
    kind: str,
    at: datetime,
    legs: Sequence[Leg],
    ref: str | None = None,
    insufficient: errors.ApiError | None = None,
) -> None:
    """Add one event's balanced legs and their balance updates to `tx`.

    `insufficient` is the error raised when a stored balance would go below zero, or
    credit above its limit.
    """
    legs = [leg for leg in legs if leg.amount != 0]
    if not legs:
        return
    if any(type(leg.amount) is not int for leg in legs):
        raise TypeError("ledger amounts are integers")
    if sum(leg.amount for leg in legs) != 0:
        raise ValueError(f"unbalanced event {event_id}")
    seen = {(leg.account, leg.book) for leg in legs}
    if len(seen) != len(legs):
        raise ValueError(f"event {event_id} has two legs on one account and book")
    posted_at = iso(at)
    short = insufficient or errors.conflict("insufficient_balance", "the balance is too low for this")
    for leg in legs:
        account = physical_account(leg.account, event_id)
        entry_id = f"{event_id}#{leg.book}"
        entry = Entry(
            account,
            entry_id,
            book=leg.book,
            amount=leg.amount,
            event_id=event_id,
            event_kind=kind,
            posted_at=posted_at,
            posted_key=f"{posted_at}#{entry_id}",
            hour_bucket=hour_bucket(at, account),
            entry_ref=f"{account}|{entry_id}",
            ref=ref,
            legs=len(legs),
        )
        tx.save(
            entry,
            condition=Entry.account.does_not_exist(),
            on_fail=errors.conflict("event_already_posted", f"event {event_id} was already posted"),
        )
        if leg.account != PLATFORM and leg.book in STORED_BOOKS:
            _update_balance(tx, account, leg.book, leg.amount, posted_at, short)


def _update_balance(tx: Tx, account: str, book: str, amount: int, posted_at: str, short: errors.ApiError) -> None:
    item = Balance(account, book)
    actions: list[Action] = [Balance.balance.add(amount), Balance.updated_at.set(posted_at)]
    if book == CREDIT:
        actions.append(Balance.headroom.add(-amount))
        condition = Balance.headroom >= amount if amount > 0 else Balance.balance >= -amount
        tx.update(item, actions, condition=condition, on_fail=short)
    elif amount < 0:
        tx.update(item, actions, condition=Balance.balance >= -amount, on_fail=short)
    else:
        tx.update(item, actions)


def open_credit(tx: Tx, user_id: str, limit_fen: int, at: datetime) -> None:
    """Create the credit book with its starting limit (activation); no money moves."""
    tx.save(
        Balance(user_account(user_id), CREDIT, balance=0, limit=limit_fen, headroom=limit_fen, updated_at=iso(at)),
        condition=Balance.account.does_not_exist(),
        on_fail=errors.conflict("already_activated", "先用后付 is already activated"),
    )


def change_credit_limit(tx: Tx, user_id: str, old_limit: int, new_limit: int, at: datetime) -> None:
    tx.update(
        Balance(user_account(user_id), CREDIT),
        [Balance.limit.set(new_limit), Balance.headroom.add(new_limit - old_limit), Balance.updated_at.set(iso(at))],
        condition=Balance.limit == old_limit,
        on_fail=errors.conflict("state_changed", "the credit limit changed; retry"),
    )


def balances(account: str) -> dict[str, Balance]:
    return {b.book: b for b in Balance.query(account)}
