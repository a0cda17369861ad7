"""The only code that writes wallet entries.

Every business event posts balanced legs (they sum to zero) inside the caller's
transaction, together with the stored-balance updates they imply, so a state change and
its money movement commit or fail as one. An event posts once: each leg's key is
`<event_id>#<book>` under its account, written only if absent.

Accounts and books:
- `user#<id>`: `credit_used` (先用后付 credit in use; bounded by the limit), `cash` (wallet
  balance), `points`, `points_held` (points held by a pending redemption), `points_owed`
  (never above zero: points a refund reversed after they had been spent; later earnings
  settle it first).
- `merchant#<id>`: `payable` (what the platform owes the merchant). The one stored book
  that may go below zero (a return or dispute after the money was paid out): the
  negative is carried and settled by later sales, never paid (`services/payouts.py`).
  A positive credit to a payable arms the merchant's next payout in the same transaction,
  through a commit hook (`services/payout_due.py`), not here.
- `platform` (sharded on write): contra books - `credit_extended`, `clearing_<channel>`,
  `fee_revenue`, `merchant_funding`, `points_issued`, `rewards_expense`, `refunds`,
  `consumer_payments` (what consumers paid from outside the wallet: card, Alipay, WeChat
  Pay; the contra of `clearing_<channel>` when a channel order is paid, see
  `services/payments/`), `payout_clearing` (payouts sent to the gateway, not yet
  confirmed) and `merchant_payouts` (money that left for merchants' bank accounts), see
  `services/payouts.py`.
Stored balances exist for user and merchant books; platform books are derived only
(a single platform balance item would be every write's hot key). Why paying a 先用后付 order
posts two events, each balanced on its own: docs/product.md, "Money".

Units: the books in `POINT_BOOKS` count points, every other book counts fen; one event's
legs are all in one unit (so "sums to zero" means something).

Several events in one transaction may move one stored balance (a collection releases credit
and raises the limit): their changes merge into one update per balance item at commit, since
DynamoDB refuses two operations on one item in a transaction.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from . import errors, sharding
from .clock import iso
from .config import settings
from .db import Tx
from .models.ledger import Balance, Entry

PLATFORM = "platform"
CREDIT = "credit_used"
CASH = "cash"
POINTS = "points"
POINTS_HELD = "points_held"
POINTS_OWED = "points_owed"
PAYABLE = "payable"
POINTS_ISSUED = "points_issued"
REWARDS_EXPENSE = "rewards_expense"
# Platform contra books (derived only, never stored).
CREDIT_EXTENDED = "credit_extended"
FEE_REVENUE = "fee_revenue"
MERCHANT_FUNDING = "merchant_funding"
CONSUMER_PAYMENTS = "consumer_payments"
PAYOUT_CLEARING = "payout_clearing"
MERCHANT_PAYOUTS = "merchant_payouts"
# Installments (services/installments): the consumer's fee still owed (user, stored), the fee
# income it is charged against, the fee paid, and the 免息 fees merchants pay (platform).
INSTALLMENT_FEE_OWED = "installment_fee_owed"
INSTALLMENT_FEE_INCOME = "installment_fee_income"
INSTALLMENT_FEES_PAID = "installment_fees_paid"
MERCHANT_INSTALLMENT_FEES = "merchant_installment_fees"
# A monthly bill paid in one charge: the money held until each part it pays is applied (or
# refunded, when paid meanwhile); zero once every part of every bill payment is resolved.
BILL_PAYMENTS = "bill_payments"
STORED_BOOKS = frozenset({CREDIT, CASH, POINTS, POINTS_HELD, POINTS_OWED, PAYABLE, INSTALLMENT_FEE_OWED})
# Stored books that may go below zero unless the posting event asks for a floor.
OVERDRAFT_BOOKS = frozenset({PAYABLE})
POINT_BOOKS = frozenset({POINTS, POINTS_HELD, POINTS_OWED, POINTS_ISSUED})


def unit(book: str) -> str:
    return "points" if book in POINT_BOOKS else "fen"


def user_account(user_id: str) -> str:
    return f"user#{user_id}"


def merchant_account(merchant_id: str) -> str:
    return f"merchant#{merchant_id}"


@dataclass(frozen=True)
class Leg:
    account: str
    book: str
    amount: int


# --- the recurring postings --------------------------------------------------------------


def clearing(channel: str) -> str:
    """The platform book of money in transit through a payment channel."""
    return f"clearing_{channel}"


def credit_reserved(user_id: str, amount_fen: int) -> list[Leg]:
    """A 先用后付 order takes credit: user `credit_used` +x against `credit_extended` -x."""
    return [Leg(user_account(user_id), CREDIT, amount_fen), Leg(PLATFORM, CREDIT_EXTENDED, -amount_fen)]


def credit_released(user_id: str, amount_fen: int) -> list[Leg]:
    """Credit given back (paid, cancelled or returned): the reverse of `credit_reserved`."""
    return [Leg(user_account(user_id), CREDIT, -amount_fen), Leg(PLATFORM, CREDIT_EXTENDED, amount_fen)]


def money_in(channel: str, amount_fen: int) -> list[Leg]:
    """A consumer paid through an outside channel (card, Alipay, WeChat Pay)."""
    return [Leg(PLATFORM, clearing(channel), amount_fen), Leg(PLATFORM, CONSUMER_PAYMENTS, -amount_fen)]


def money_out(channel: str, amount_fen: int) -> list[Leg]:
    """A refund back through an outside channel: the reverse of `money_in`."""
    return [Leg(PLATFORM, clearing(channel), -amount_fen), Leg(PLATFORM, CONSUMER_PAYMENTS, amount_fen)]


def bill_money_in(channel: str, amount_fen: int) -> list[Leg]:
    """A monthly bill's one charge arrived: held in `bill_payments` until its parts are resolved."""
    return [Leg(PLATFORM, clearing(channel), amount_fen), Leg(PLATFORM, BILL_PAYMENTS, -amount_fen)]


def bill_part_resolved(amount_fen: int) -> list[Leg]:
    """One part of a bill payment leaves `bill_payments`: applied to its part (then it reads as
    any payment, `money_in`), or excluded (paid meanwhile) before its refund (`money_out`)."""
    return [Leg(PLATFORM, BILL_PAYMENTS, amount_fen), Leg(PLATFORM, CONSUMER_PAYMENTS, -amount_fen)]


def merchant_settled(merchant_id: str, payable_fen: int, fee_fen: int) -> list[Leg]:
    """A completed order's goods become the merchant's payable, less the platform's fee
    (negative amounts reverse it: a return after settlement)."""
    return [
        Leg(merchant_account(merchant_id), PAYABLE, payable_fen),
        Leg(PLATFORM, FEE_REVENUE, fee_fen),
        Leg(PLATFORM, MERCHANT_FUNDING, -(payable_fen + fee_fen)),
    ]


def installment_fee_charged(user_id: str, fee_fen: int) -> list[Leg]:
    """A plan's fee is charged to the consumer: `installment_fee_owed` +x against
    `installment_fee_income` -x (negative amounts forgive it: a waiver, a refund, a cancel)."""
    return [Leg(user_account(user_id), INSTALLMENT_FEE_OWED, fee_fen), Leg(PLATFORM, INSTALLMENT_FEE_INCOME, -fee_fen)]


def installment_fee_paid(user_id: str, fee_fen: int) -> list[Leg]:
    """A part's fee share was paid (its money arrived as `money_in`): the fee owed goes down."""
    return [Leg(user_account(user_id), INSTALLMENT_FEE_OWED, -fee_fen), Leg(PLATFORM, INSTALLMENT_FEES_PAID, fee_fen)]


def merchant_installment_fee(merchant_id: str, fee_fen: int) -> list[Leg]:
    """A 免息 plan's fee comes out of the merchant's payable (negative: given back on a return)."""
    return [Leg(merchant_account(merchant_id), PAYABLE, -fee_fen), Leg(PLATFORM, MERCHANT_INSTALLMENT_FEES, fee_fen)]


def payout_sent(merchant_id: str, amount_fen: int) -> list[Leg]:
    """A transfer to the merchant's bank leaves: its payable −x into `payout_clearing` +x."""
    return [Leg(merchant_account(merchant_id), PAYABLE, -amount_fen), Leg(PLATFORM, PAYOUT_CLEARING, amount_fen)]


def payout_returned(merchant_id: str, amount_fen: int) -> list[Leg]:
    """The bank refused the transfer: the reverse of `payout_sent` (the payable comes back)."""
    return [Leg(merchant_account(merchant_id), PAYABLE, amount_fen), Leg(PLATFORM, PAYOUT_CLEARING, -amount_fen)]


def payout_paid(amount_fen: int) -> list[Leg]:
    """The bank confirmed the transfer: out of `payout_clearing` into `merchant_payouts`."""
    return [Leg(PLATFORM, PAYOUT_CLEARING, -amount_fen), Leg(PLATFORM, MERCHANT_PAYOUTS, amount_fen)]


def physical_account(account: str, event_id: str) -> str:
    """Where a leg of `event_id` on `account` is written (the platform is sharded by event)."""
    if account == PLATFORM:
        return f"{PLATFORM}#{sharding.shard_of(event_id, settings().rules.ledger_shards):02d}"
    return account


def physical_accounts(account: str, event_id: str) -> list[str]:
    """Where such a leg may have been written: under the current shard count and the previous."""
    if account != PLATFORM:
        return [account]
    rules = settings().rules
    shards = sharding.candidates(event_id, rules.ledger_shards, rules.ledger_shards_previous)
    return [f"{PLATFORM}#{shard:02d}" for shard in shards]


def _buckets(stamp: str) -> list[str]:
    rules = settings().rules
    return [f"{stamp}#{shard:02d}" for shard in sharding.read_range(rules.ledger_shards, rules.ledger_shards_previous)]


def hour_bucket(at: datetime, key: str) -> str:
    return f"{at.strftime('%Y%m%d%H')}#{sharding.shard_of(key, settings().rules.ledger_shards):02d}"


def hour_buckets(hour: datetime) -> list[str]:
    """Every `by_hour` partition of one hour (the shards of the current and previous count)."""
    return _buckets(hour.strftime("%Y%m%d%H"))


def day_bucket(at: datetime, key: str) -> str:
    """The entry's `by_day` partition: its UTC day (the day `posted_key` starts with) and shard."""
    return f"{at.astimezone(UTC).strftime('%Y%m%d')}#{sharding.shard_of(key, settings().rules.ledger_shards):02d}"


def day_buckets(day: datetime) -> list[str]:
    """Every `by_day` partition of one UTC day (the shards of the current and previous count)."""
    return _buckets(day.astimezone(UTC).strftime("%Y%m%d"))


def post(
    tx: Tx,
    *,
    event_id: str,
    kind: str,
    at: datetime,
    legs: Sequence[Leg],
    ref: str | None = None,
    insufficient: errors.DomainError | None = None,
    floor: frozenset[str] = frozenset(),
) -> None:
    """Add one event's balanced legs and their balance updates to `tx`.

    `insufficient` is the error raised when a stored balance would go below zero, or
    credit above its limit. `floor` names overdraft books (`OVERDRAFT_BOOKS`) this event
    must not take below zero (a payout never pays more than the payable).
    """
    legs = [leg for leg in legs if leg.amount != 0]
    if not legs:
        return
    if any(type(leg.amount) is not int for leg in legs):
        raise TypeError("ledger amounts are integers")
    if sum(leg.amount for leg in legs) != 0:
        raise ValueError(f"unbalanced event {event_id}")
    if len({unit(leg.book) for leg in legs}) != 1:
        raise ValueError(f"event {event_id} mixes points and fen")
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
            day_bucket=day_bucket(at, account),
            entry_ref=f"{account}|{entry_id}",
            ref=ref,
            legs=len(legs),
        )
        tx.save(
            entry,
            condition=Entry.account.does_not_exist(),
            on_fail=errors.moved("event_already_posted", f"event {event_id} was already posted"),
            guard=True,
        )
        if leg.account != PLATFORM and leg.book in STORED_BOOKS:
            _update_balance(tx, account, leg.book, leg.amount, posted_at, short, leg.book in floor)


@dataclass
class _Change:
    """What one transaction does to one stored balance item, merged over its events."""

    delta: int = 0
    posted_at: str = ""
    short: errors.DomainError | None = None
    limit_from: int | None = None
    limit_to: int | None = None
    floor: bool = False


_PENDING: weakref.WeakKeyDictionary[Tx, dict[tuple[str, str], _Change]] = weakref.WeakKeyDictionary()


def _change(tx: Tx, account: str, book: str) -> _Change:
    changes = _PENDING.get(tx)
    if changes is None:
        changes = _PENDING[tx] = {}
        tx.before_commit("ledger.balances", lambda: _flush(tx))
    return changes.setdefault((account, book), _Change())


def _update_balance(
    tx: Tx, account: str, book: str, amount: int, posted_at: str, short: errors.DomainError, floor: bool = False
) -> None:
    change = _change(tx, account, book)
    change.delta += amount
    change.floor = change.floor or floor
    change.posted_at = max(change.posted_at, posted_at)
    change.short = change.short or short


def _flush(tx: Tx) -> None:
    for (account, book), change in _PENDING.pop(tx, {}).items():
        _write_balance(tx, account, book, change)


def _write_balance(tx: Tx, account: str, book: str, change: _Change) -> None:
    delta = change.delta
    raised = change.limit_to is not None and change.limit_from is not None
    if delta == 0 and not raised:
        return
    item = Balance(account, book)
    actions: list[Action] = [Balance.updated_at.set(change.posted_at)]
    conditions: list[Condition] = []
    if delta:
        actions.append(Balance.balance.add(delta))
    short = change.short or errors.conflict("insufficient_balance", "the balance is too low for this")
    on_fail = short
    if book == CREDIT:
        increase = 0
        if change.limit_from is not None and change.limit_to is not None:
            increase = change.limit_to - change.limit_from
            actions.append(Balance.limit.set(change.limit_to))
            conditions.append(Balance.limit == change.limit_from)
            if delta <= 0:
                on_fail = errors.state_changed("the credit limit changed; retry")
        if increase - delta:
            actions.append(Balance.headroom.add(increase - delta))
        if delta > 0:
            # headroom after = headroom - delta + increase must stay >= 0
            conditions.append(Balance.headroom >= delta - increase)
        elif delta < 0:
            conditions.append(Balance.balance >= -delta)
    elif book == POINTS_OWED:
        if delta > 0:  # settling a debt never turns it into a credit
            conditions.append(Balance.balance <= -delta)
    elif delta < 0 and (book not in OVERDRAFT_BOOKS or change.floor):
        conditions.append(Balance.balance >= -delta)
    condition: Condition | None = None
    for c in conditions:
        condition = c if condition is None else condition & c
    tx.update(item, actions, condition=condition, on_fail=on_fail if condition is not None else None)


def open_credit(tx: Tx, user_id: str, limit_fen: int, at: datetime) -> None:
    """Create the credit book with its starting limit (activation); no money moves."""
    tx.save(
        Balance(user_account(user_id), CREDIT, balance=0, limit=limit_fen, headroom=limit_fen, updated_at=iso(at)),
        condition=Balance.account.does_not_exist(),
        on_fail=errors.conflict("already_activated", "先用后付 is already activated"),
    )


def change_credit_limit(tx: Tx, user_id: str, old_limit: int, new_limit: int, at: datetime) -> None:
    """Set a new credit limit (conditional on the old one), merged with any credit legs
    the same transaction posts."""
    change = _change(tx, user_account(user_id), CREDIT)
    if change.limit_to is not None:
        raise ValueError("one credit-limit change per transaction")
    change.limit_from, change.limit_to = old_limit, new_limit
    change.posted_at = max(change.posted_at, iso(at))


def _posted(account: str, event_id: str, book: str) -> Entry | None:
    for physical in physical_accounts(account, event_id):
        try:
            return Entry.get(physical, f"{event_id}#{book}", consistent_read=True)
        except DoesNotExist:
            continue
    return None


def leg_amount(account: str, event_id: str, book: str) -> int | None:
    """The amount an event posted to `account`'s `book`, or None if it did not."""
    leg = _posted(account, event_id, book)
    return None if leg is None else int(leg.amount)


def posted_kind(account: str, event_id: str, book: str) -> str | None:
    """The kind of the event that posted to `account`'s `book`, or None if none did."""
    leg = _posted(account, event_id, book)
    return None if leg is None else str(leg.event_kind)


def balances(account: str) -> dict[str, Balance]:
    return {b.book: b for b in Balance.query(account)}
