"""PIPL rights: a user's data export and account closure (the erasure and the retention purge
that follow it: `erasure.py`).

Export: `data_export.py` (re-exported here: `export_page`, `section_page`, `sections`,
`EXPORTED`, `NOT_EXPORTED`).

Closure: refused (409 `account_not_closable`, one field error per obstacle) while anything
is open. Then one transaction erases the name, the ID data (masked forms, keyed hash and
its uniqueness claim, ciphertexts), the payment password, cards and devices, forfeits
points, marks the account closed (its tokens get `401 account_closed`, `revocation.py`)
and arms two timers: `closure_scrub` (now: erase the shipping addresses on the kept
orders; done at once by the request, the timer only covers a crash) and
`account_retention` (3 years, `rules.closed_account_retention_seconds`: delete the kept
orders, payment attempts, returns, refunds, wallet entries and balances). Both are swept
by `purge_closed_accounts`. The copies of the orders and messages in merchants' webhook
events are erased and deleted with them (found through the `by_order` index).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pynamodb.exceptions import UpdateError

from .. import batch, errors, ledger, revocation, timers
from ..clock import iso
from ..config import settings
from ..db import Tx, describe, is_retryable
from ..errors import FieldError
from ..ledger import PLATFORM, Leg
from ..models import orders as o
from ..models.addresses import Address
from ..models.aftersale import PENDING as REFUND_PENDING
from ..models.aftersale import Refund, ReturnRequest, return_refund_id
from ..models.cart import CartItem
from ..models.ledger import Balance
from ..models.redemptions import OPEN as OPEN_REDEMPTIONS
from ..models.redemptions import Redemption
from ..models.users import BankCard, Device, UniqueClaim
from ..models.users import User as User
from ..observability import count, logger
from . import closing, erasure
from .data_export import EXPORTED as EXPORTED
from .data_export import NOT_EXPORTED as NOT_EXPORTED
from .data_export import export_page as export_page
from .data_export import section_page as section_page
from .data_export import sections as sections
from .erasure import ERASED_ADDRESS as ERASED_ADDRESS

if TYPE_CHECKING:
    from ..idempotency import IdemScope

SCRUB, RETENTION = erasure.SCRUB, erasure.RETENTION
CLOSING_MARKER_SECONDS = 300  # a closure takes a second; an older marker is a crashed one
CLOSE_ERRORS = closing.CLOSING_ERRORS | errors.raises(
    conflict=["account_not_closable", "account_closed", "state_changed"]
)


# --- closure ----------------------------------------------------------------------------------------

OPEN_ORDER_STATUSES = (
    o.AWAITING_CONFIRMATION,
    o.AWAITING_PAYMENT,
    o.RISK_REVIEW,
    o.PLACED,
    o.SHIPPED,
    o.RETURN_REQUESTED,
)


def obstacles(user: User, books: dict[str, Balance] | None = None) -> list[FieldError]:
    """What keeps the account open, one entry per kind (empty: it may close); `books`: the
    user's balances by book when already read (`_account`)."""
    found: list[FieldError] = []
    user_id = user.user_id
    unpaid = int(user.unpaid_bnpl_count or 0)
    if unpaid:
        found.append(FieldError("unpaid_bnpl_orders", f"{unpaid} unpaid 先用后付 order(s): pay them first"))
    open_redemptions = sum(1 for r in Redemption.by_user.query(user_id) if r.status in OPEN_REDEMPTIONS)
    open_redemptions = max(open_redemptions, int(user.open_redemptions or 0))
    if open_redemptions:
        found.append(FieldError("pending_redemptions", f"{open_redemptions} redemption(s) still being reviewed"))
    orders = list(erasure.orders_of(user_id))
    returns = sum(1 for x in orders if x.pending_return_id or x.status == o.RETURN_REQUESTED)
    returns = max(returns, int(user.open_returns or 0))
    if returns:
        found.append(FieldError("open_returns", f"{returns} order(s) with an open return request"))
    in_flight = sum(
        1
        for x in orders
        if x.status in OPEN_ORDER_STATUSES[:4]
        or (x.status == o.PAID and not x.received_at and x.payment_method != o.BNPL)
    )
    if in_flight:
        found.append(FieldError("open_orders", f"{in_flight} order(s) not yet delivered"))
    waiting = sum(1 for r in _pending_refunds(user_id))
    if waiting:
        found.append(FieldError("pending_refunds", f"{waiting} card refund(s) still waiting for the gateway"))
    cash = (ledger.balances(ledger.user_account(user_id)) if books is None else books).get(ledger.CASH)
    if cash is not None and int(cash.balance or 0) != 0:
        found.append(FieldError("cash_balance", "the wallet holds cash: spend it first"))
    return found


def _pending_refunds(user_id: str) -> Iterable[Refund]:
    """Refunds owed through a channel and not yet confirmed by its gateway."""
    keys = [return_refund_id(r.request_id) for r in ReturnRequest.by_user.query(user_id)]
    return (r for r in (Refund.batch_get(keys, consistent_read=True) if keys else []) if r.status == REFUND_PENDING)


def close(user_id: str, now: datetime, idem: IdemScope | None = None) -> User:
    """Close the account: mark it closing (no opening action commits after that), refuse
    while anything is open, else erase and revoke in one transaction conditioned on the
    marker and on every open-thing counter (services/closing.py). Answers the user as that
    transaction left it (`idem` stages the answer in it: no read after the write)."""
    user, books = _account(user_id, now)
    if user.closed_at:
        raise errors.conflict("account_closed", "this account is already closed")
    _refuse_if_open(user, books)  # a plain refusal blocks nobody's purchase with a marker
    marker = _begin_closing(user_id, now, idem)
    try:
        user, books = _account(user_id, now)
        _refuse_if_open(user, books)  # what opened before the marker; nothing opens after it
        _commit_closure(user, books, marker, now, idem)
    except BaseException:
        _end_closing(user_id, marker)
        raise
    revocation.forget(user_id)
    count("AccountsClosed")
    _erase_now(user_id, now)
    return user


def _erase_now(user_id: str, now: datetime) -> None:
    """The closure stands once its transaction commits: erase the kept orders' addresses now
    and disarm `closure_scrub`, or, when the store fails here, leave both to that timer. The
    answer stays 200: a 503 would ask the user to retry what is done (`make soak`)."""
    try:
        erasure.scrub(user_id)
        tx = Tx()
        timers.cancel(tx, SCRUB, user_id, now)
        tx.commit()
    except Exception as exc:
        if not (is_retryable(exc) or isinstance(exc, errors.Unavailable)):
            raise
        logger.warning("closure: erasure left to its timer", extra={"error": type(exc).__name__, **describe(exc)})


# The books a closure reads with the user item: cash must be empty, points are forfeited.
_BOOKS = (ledger.CASH, ledger.POINTS, ledger.POINTS_OWED)


def _account(user_id: str, now: datetime) -> tuple[User, dict[str, Balance]]:
    """The user item and its closure's balances, in one read (the user made on first sight)."""
    account = ledger.user_account(user_id)
    found, *balances = batch.get_many([(User, user_id, None), *((Balance, account, book) for book in _BOOKS)])
    books = {b.book: b for b in balances if isinstance(b, Balance)}
    if isinstance(found, User):
        return found, books
    user = User(user_id, created_at=iso(now))
    user.save(condition=User.user_id.does_not_exist())
    return user, books


def _refuse_if_open(user: User, books: dict[str, Balance]) -> None:
    blocking = obstacles(user, books)
    if blocking:
        raise errors.Conflict(
            "account_not_closable", "the account has open items: " + ", ".join(f.field for f in blocking), blocking
        )


def _begin_closing(user_id: str, now: datetime, idem: IdemScope | None) -> str:
    """Mark the user item closing; a marker older than `closing_marker_seconds` is from a
    closure that crashed and is taken over. A closure sent with an Idempotency-Key marks it
    with a marker of its key: the same request sent twice at once goes on under one marker
    (not refused `account_closing` by its twin), and one transaction of the two commits."""
    digest = hashlib.sha256(idem.record_key.encode()).hexdigest() if idem is not None else uuid.uuid4().hex
    marker = "cls_" + digest[:20]
    stale = iso(now - timedelta(seconds=CLOSING_MARKER_SECONDS))
    free = User.closing_id.does_not_exist() | (User.closing_at < stale)
    if idem is not None:
        free |= User.closing_id == marker
    tx = Tx()
    tx.update(
        User(user_id),
        [User.closing_id.set(marker), User.closing_at.set(iso(now))],
        condition=User.closed_at.does_not_exist() & free,
        on_fail=closing.account_closing(),
    )
    if idem is not None:  # its twin already closed the account: a replay, not `account_closing`
        idem.guard(tx)
    tx.commit()
    return marker


def _end_closing(user_id: str, marker: str) -> None:
    """A refused closure lifts its marker (only its own: a takeover's stays)."""
    try:
        User(user_id).update(
            actions=[User.closing_id.remove(), User.closing_at.remove()], condition=User.closing_id == marker
        )
    except UpdateError:
        pass  # taken over, or already lifted


def _commit_closure(user: User, books: dict[str, Balance], marker: str, now: datetime, idem: IdemScope | None) -> None:
    user_id = user.user_id
    retention_until = now + timedelta(seconds=settings().rules.closed_account_retention_seconds)
    tx = Tx()
    tx.update(
        user,
        [
            User.real_name_masked.remove(),
            User.real_name_cipher.remove(),
            User.id_number_masked.remove(),
            User.id_number_hash.remove(),
            User.id_number_cipher.remove(),
            User.birth_date.remove(),
            User.password_hash.remove(),
            User.default_card_id.remove(),
            User.default_card_fingerprint.remove(),
            User.last_device_id.remove(),
            User.default_address_id.remove(),
            User.address_count.remove(),
            User.closing_id.remove(),
            User.closing_at.remove(),
            User.closed_at.set(iso(now)),
            User.retention_until.set(iso(retention_until)),
        ],
        condition=User.closed_at.does_not_exist()
        & (User.closing_id == marker)
        & ((User.unpaid_bnpl_count == 0) | User.unpaid_bnpl_count.does_not_exist())
        & closing.none_open(User.open_redemptions)
        & closing.none_open(User.open_returns),
        on_fail=errors.conflict("account_not_closable", "the account changed meanwhile; retry"),
    )
    if user.id_number_hash:
        tx.delete(UniqueClaim(f"id_number#{user.id_number_hash}"))
    for model in (*BankCard.query(user_id), *Device.query(user_id), *Address.query(user_id), *CartItem.query(user_id)):
        tx.delete(model)
    tx.check(
        Balance,
        ledger.user_account(user_id),
        ledger.CASH,
        condition=Balance.balance.does_not_exist() | (Balance.balance == 0),
        on_fail=errors.state_changed("the wallet changed meanwhile; retry"),
    )
    _forfeit_points(tx, user_id, books, now)
    timers.schedule(tx, SCRUB, user_id, now)
    timers.schedule(tx, RETENTION, user_id, retention_until)
    user.closed_at, user.retention_until = iso(now), iso(retention_until)  # as written: no read after
    if idem is not None:
        idem.stage(tx, user)
    tx.commit()


def _forfeit_points(tx: Tx, user_id: str, books: dict[str, Balance], now: datetime) -> None:
    points = int(books[ledger.POINTS].balance or 0) if ledger.POINTS in books else 0
    owed = int(books[ledger.POINTS_OWED].balance or 0) if ledger.POINTS_OWED in books else 0
    legs = [Leg(ledger.user_account(user_id), ledger.POINTS, -points)]
    legs.append(Leg(ledger.user_account(user_id), ledger.POINTS_OWED, -owed))
    legs.append(Leg(PLATFORM, ledger.POINTS_ISSUED, points + owed))
    # The platform's legs outlive the purge: their ids must not name the user.
    event_id = "closure:" + hashlib.sha256(user_id.encode()).hexdigest()[:24] + ":points_forfeited"
    ledger.post(tx, event_id=event_id, kind="points_forfeited", at=now, legs=legs)
