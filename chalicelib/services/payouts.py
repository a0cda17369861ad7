"""Merchant payouts (T+1): the payout account and the daily `run_payouts` job.

Due-index: every positive credit to a merchant's `payable` (a settlement, a failed payout
given back) arms the timer `payout#<shard>` / `<next cut-off>#<merchant_id>` in the same
transaction (`payout_due.py`, a commit hook of `db.Tx`); setting a payout account arms it too. `run_payouts`
reads only the keys due by now, shard by shard, bounded like every sweep: never a scan.

Paying one merchant (one transfer per merchant per cut-off):
1. amount = the payable settled before the last cut-off = min(balance, balance less the
   payable legs posted since the cut-off); nothing if that is zero or negative (a negative
   payable is carried until later sales cover it).
2. One transaction: the `Payout` record (`sending`, its id fixed by merchant and cut-off,
   written only if absent: a second run, or an overlapping one, pays nothing), the event
   `payout:<id>:sent` (merchant `payable` -x, platform `payout_clearing` +x, floored so a
   payout never takes the payable below zero), the due key taken, and a `payout_query`
   timer in case the answer never comes.
3. The gateway's transfer, then one transaction for its answer: paid → `payout:<id>:paid`
   (platform `payout_clearing` -x, `merchant_payouts` +x); failed → `payout:<id>:returned`
   (merchant `payable` +x, `payout_clearing` -x), which re-arms the due key for the next
   cut-off: the retry is the next day's payout; a timeout leaves it `sending` and its
   `payout_query` timer asks the gateway later. A payout is sent once; only queried after.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition

from .. import errors, ledger, pagination, pii, timers
from ..channels import payouts as gateway_api
from ..channels.base import PENDING, SUCCEEDED
from ..clock import iso
from ..config import settings
from ..cutoff import china_day, last_cutoff, next_cutoff
from ..db import Tx
from ..errors import FieldError
from ..models import payouts as p
from ..models.ledger import Balance, Entry
from ..models.payouts import Payout as Payout
from ..models.payouts import PayoutAccount as PayoutAccount
from ..models.timers import Timer
from ..money import Fen
from ..observability import count, logger
from . import webhooks

if TYPE_CHECKING:
    from ..idempotency import IdemScope

DUE = timers.PAYOUT
QUERY = timers.PAYOUT_QUERY
SENT, PAID, RETURNED = "payout_sent", "payout_paid", "payout_returned"
PAYOUT_KINDS = frozenset({SENT, RETURNED})  # the event kinds that move a payable out and back
MAX_ENTRIES = 200  # covered entries kept on a payout record (the count is always kept)
ACCOUNT_NUMBER = re.compile(r"^[0-9]{8,30}$")
SET_ACCOUNT_ERRORS = errors.raises(unprocessable=["invalid_account_number"])
# A payout run that lost a race (another run paid this cut-off, or recorded its outcome).
PAY_ERRORS = errors.raises(conflict=["payout_exists", "payout_settled", "state_changed"])


# --- the payout account -----------------------------------------------------------------------


def set_account(
    merchant_id: str, account_name: str, account_number: str, bank: str, now: datetime, idem: IdemScope | None = None
) -> PayoutAccount:
    """Store (or replace) the merchant's payout account as a gateway token; arm its payout."""
    number = account_number.replace(" ", "")
    if not ACCOUNT_NUMBER.match(number):
        raise errors.unprocessable(
            "invalid_account_number",
            "a bank account number is 8 to 30 digits",
            [FieldError("account_number", "8 to 30 digits")],
        )
    token = gateway_api.tokenize(number)
    account = PayoutAccount(
        merchant_id,
        gateway_token=token.token,
        last4=token.last4,
        bank=bank,
        account_name_masked=pii.mask_name(account_name),
        account_name_cipher=pii.encrypt(account_name, f"payout_account:{merchant_id}"),
        created_at=iso(now),
        updated_at=iso(now),
    )
    tx = Tx()
    # One write, no read before it: a replaced account keeps when it was first set.
    tx.update(
        account,
        [
            PayoutAccount.gateway_token.set(account.gateway_token),
            PayoutAccount.last4.set(account.last4),
            PayoutAccount.bank.set(account.bank),
            PayoutAccount.account_name_masked.set(account.account_name_masked),
            PayoutAccount.account_name_cipher.set(account.account_name_cipher),
            PayoutAccount.created_at.set(PayoutAccount.created_at | account.created_at),
            PayoutAccount.updated_at.set(account.updated_at),
        ],
    )
    timers.schedule(tx, DUE, merchant_id, next_cutoff(now))
    if idem is not None:
        idem.stage(tx, account)
    tx.commit()
    return account


def get_account(merchant_id: str) -> PayoutAccount | None:
    try:
        return PayoutAccount.get(merchant_id, consistent_read=True)
    except DoesNotExist:
        return None


def list_payouts(merchant_id: str, limit: int, last_key: dict[str, Any] | None) -> tuple[list[Payout], Any]:
    page = Payout.query(merchant_id, scan_index_forward=False, limit=limit, last_evaluated_key=last_key)
    return list(page), page.last_evaluated_key


def settlements(merchant_id: str, limit: int, cursor: str | None) -> tuple[Fen, list[Entry], str | None]:
    """What the platform owes the merchant: the payable balance and a page of its entries, newest first."""
    scope = f"settlements:{merchant_id}"
    page = Entry.by_time.query(
        ledger.merchant_account(merchant_id),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=pagination.decode(cursor, scope),
    )
    entries = list(page)
    return payable_of(merchant_id), entries, pagination.encode(page.last_evaluated_key, scope)


# --- amounts --------------------------------------------------------------------------------------


def payout_id(merchant_id: str, cut: datetime) -> str:
    return f"po_{china_day(cut)}_{hashlib.sha256(merchant_id.encode()).hexdigest()[:12]}"


def _payable_legs(merchant_id: str, since: str | None, until: str | None = None) -> list[Entry]:
    account = ledger.merchant_account(merchant_id)
    cond: Condition
    if since and until:
        cond = Entry.posted_key.between(since, until)
    elif since:
        cond = Entry.posted_key >= since
    else:
        cond = Entry.posted_key < (until or "\uffff")
    return [
        e
        for e in Entry.by_time.query(account, cond, consistent_read=True)
        if e.book == ledger.PAYABLE and (until is None or e.posted_key < until)
    ]


def payable_of(merchant_id: str) -> Fen:
    """The merchant's payable: its one balance item read by key (a list page's one query is its own)."""
    try:
        return int(Balance.get(ledger.merchant_account(merchant_id), ledger.PAYABLE).balance or 0)
    except DoesNotExist:
        return 0


def due_amount(merchant_id: str, cut: datetime) -> Fen:
    """What is payable from settlements before the cut-off (≤ the payable; may be ≤ 0)."""
    balance = payable_of(merchant_id)
    since = sum(int(e.amount) for e in _payable_legs(merchant_id, iso(cut)) if e.event_kind not in PAYOUT_KINDS)
    return min(balance, balance - since)


def _covered(merchant_id: str, cut: datetime) -> list[Entry]:
    """The payable entries since the merchant's previous payout's cut-off, up to this one."""
    previous = next(iter(Payout.query(merchant_id, scan_index_forward=False, limit=1, consistent_read=True)), None)
    since = previous.cutoff if previous is not None else None
    return [e for e in _payable_legs(merchant_id, since, iso(cut)) if e.event_kind != SENT]


# --- the job ---------------------------------------------------------------------------------------


def _take_only(timer: Timer) -> bool:
    tx = Tx()
    timers.take(tx, timer)
    tx.commit()
    return False


def pay_merchant(timer: Timer, now: datetime) -> bool:
    """Act on one due `payout` key: send the merchant's payout for the last cut-off."""
    merchant_id = timer.ref
    cut = last_cutoff(now)
    pid = payout_id(merchant_id, cut)
    try:
        Payout.get(merchant_id, pid, consistent_read=True)
        return _take_only(timer)  # this cut-off already paid the merchant
    except DoesNotExist:
        pass
    account = get_account(merchant_id)
    amount = due_amount(merchant_id, cut)
    if account is None or amount <= 0:
        # No account yet (setting one re-arms), or nothing due / a negative payable carried
        # (the next credit re-arms).
        return _take_only(timer)
    covered = _covered(merchant_id, cut)
    query_at = now + timedelta(seconds=settings().rules.payout_query_seconds)
    payout = Payout(
        merchant_id,
        pid,
        amount_fen=amount,
        currency=settings().rules.currency,
        status=p.SENDING,
        cutoff=iso(cut),
        entries=[
            {
                "event_id": e.event_id,
                "kind": e.event_kind,
                "order_id": e.ref,
                "amount_fen": int(e.amount),
                "posted_at": e.posted_at,
            }
            for e in covered[:MAX_ENTRIES]
        ],
        entry_count=len(covered),
        gateway_token=account.gateway_token,
        last4=account.last4,
        bank=account.bank,
        query_at=iso(query_at),
        created_at=iso(now),
    )
    tx = Tx()
    tx.save(
        payout,
        condition=Payout.payout_id.does_not_exist(),
        on_fail=errors.conflict("payout_exists", "this cut-off already paid the merchant"),
    )
    ledger.post(
        tx,
        event_id=f"payout:{pid}:sent",
        kind=SENT,
        at=now,
        ref=pid,
        legs=ledger.payout_sent(merchant_id, amount),
        insufficient=errors.state_changed("the payable changed meanwhile; the next run pays it"),
        floor=frozenset({ledger.PAYABLE}),
    )
    timers.take(tx, timer)
    timers.schedule(tx, QUERY, pid, query_at, {"merchant_id": merchant_id})
    tx.commit()
    count("PayoutsSent")
    result = gateway_api.gateway().transfer(_ref(payout))
    settle(payout, result, now)
    return True


def _ref(payout: Payout) -> gateway_api.TransferRef:
    return gateway_api.TransferRef(
        payout_id=payout.payout_id,
        amount_fen=int(payout.amount_fen),
        currency=payout.currency,
        account_token=payout.gateway_token,
    )


def settle(payout: Payout, result: gateway_api.TransferResult, now: datetime, *, fired: Timer | None = None) -> str:
    """Record the gateway's answer about a `sending` payout (once; a pending one waits)."""
    if result.status == PENDING:
        logger.info("payout outcome pending", extra={"payout_id": payout.payout_id})
        return PENDING
    pid, amount, merchant_id = payout.payout_id, int(payout.amount_fen), payout.merchant_id
    tx = Tx()
    actions = [Payout.settled_at.set(iso(now)), Payout.query_at.remove()]
    if result.status == SUCCEEDED:
        actions += [Payout.status.set(p.PAID)]
        if result.txn_id:
            actions.append(Payout.gateway_txn_id.set(result.txn_id))
        ledger.post(
            tx,
            event_id=f"payout:{pid}:paid",
            kind=PAID,
            at=now,
            ref=pid,
            legs=ledger.payout_paid(amount),
        )
    else:
        actions += [Payout.status.set(p.FAILED), Payout.failure_code.set(result.failure_code or "failed")]
        ledger.post(  # the payable comes back and re-arms the due key: retried next day
            tx,
            event_id=f"payout:{pid}:returned",
            kind=RETURNED,
            at=now,
            ref=pid,
            legs=ledger.payout_returned(merchant_id, amount),
        )
    tx.update(
        payout,
        actions,
        condition=Payout.status == p.SENDING,
        on_fail=errors.conflict("payout_settled", "the payout's outcome was already recorded"),
    )
    event = webhooks.types.PAYOUT_PAID if result.status == SUCCEEDED else webhooks.types.PAYOUT_FAILED
    webhooks.emit(tx, merchant_id, event, payout, now, actions=actions)
    if fired is not None:
        timers.take(tx, fired)
    elif payout.query_at:
        timers.cancel(tx, QUERY, pid, payout.query_at)
    tx.commit()
    count("PayoutsPaid" if result.status == SUCCEEDED else "PayoutsFailed")
    return str(result.status)


def query_payout(timer: Timer, now: datetime) -> bool:
    """Act on a due `payout_query` timer: ask the gateway, never send again."""
    merchant_id = str((timer.data or {}).get("merchant_id", ""))
    try:
        payout = Payout.get(merchant_id, timer.ref, consistent_read=True)
    except DoesNotExist:
        return _take_only(timer)
    if payout.status != p.SENDING:
        return _take_only(timer)
    result = gateway_api.gateway().query(_ref(payout))
    if result.status == PENDING:
        again = now + timedelta(seconds=settings().rules.payout_query_seconds)
        tx = Tx()
        timers.take(tx, timer)
        timers.schedule(tx, QUERY, payout.payout_id, again, {"merchant_id": merchant_id})
        tx.update(payout, [Payout.query_at.set(iso(again))], condition=Payout.status == p.SENDING)
        tx.commit()
        return False
    settle(payout, result, now, fired=timer)
    return True


def run_payouts(now: datetime) -> dict[str, Any]:
    """Ask about payouts whose answer is overdue, then pay every merchant due by the last cut-off."""
    rules = settings().rules
    queried = timers.sweep(QUERY, now, lambda t: query_payout(t, now))
    left = max(rules.sweep_max_items - sum(queried[k] for k in ("processed", "skipped", "failed")), 0)
    paid = timers.sweep(DUE, now, lambda t: pay_merchant(t, now), max_items=left)
    return {
        "paid": paid["processed"],
        "skipped": paid["skipped"],
        "failed": paid["failed"] + queried["failed"],
        "queried": queried["processed"] + queried["skipped"],
        "complete": int(paid["complete"] and queried["complete"]),
    }


# --- reconciliation ---------------------------------------------------------------------------------


def paid_out_by_records(merchant_id: str) -> int:
    """What the payout records say left the payable: sending or paid, not failed."""
    return sum(
        int(x.amount_fen) for x in Payout.query(merchant_id, consistent_read=True) if x.status in (p.SENDING, p.PAID)
    )


def payable_drift(account: str, entries: list[Entry]) -> dict[str, Any] | None:
    """payable = settled − reversed − paid out, and paid out per the ledger = per the records."""
    merchant_id = account.removeprefix("merchant#")
    by_kind: dict[str, int] = {}
    for e in entries:
        if e.book == ledger.PAYABLE:
            by_kind[e.event_kind] = by_kind.get(e.event_kind, 0) + int(e.amount)
    paid_ledger = -(by_kind.get(SENT, 0) + by_kind.get(RETURNED, 0))
    paid_records = paid_out_by_records(merchant_id)
    if paid_ledger == paid_records:
        return None
    return {
        "merchant_id": merchant_id,
        "paid_out_ledger": paid_ledger,
        "paid_out_records": paid_records,
        "by_kind": by_kind,
    }
