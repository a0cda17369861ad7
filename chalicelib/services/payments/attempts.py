"""The payment attempt store: one `PaymentAttempt` per try at paying an order, its id (the
channel's out_trade_no), and what a channel needs to know about it (`payment_ref`).

Also the ledger legs money arriving through an attempt posts (`money_in_legs`), and how a
payment reads in a notification (`CHANNEL_NAMES`; amounts by `money.price`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from ... import errors, ledger
from ...channels import base as ch
from ...channels import wallet as wallet_channel
from ...clock import iso, parse_iso
from ...config import settings
from ...db import Tx
from ...ledger import Leg
from ...models import payments as pm
from ...models.payments import PaymentAttempt

# Attempt purposes: the user paying now, checkout's channel payment, the auto-debit, a
# monthly bill paid in one charge (its `order_id` is the bill's ref, `bill_lines.bill_ref`).
PAY_NOW = "pay_now"
CHECKOUT = "checkout"
COLLECTION = "collection"
BILL = "bill"
# Two attempts on one order race: one charges, the other is refused.
ATTEMPT_ERRORS = errors.raises(conflict=["payment_in_progress"])

# --- attempts ---------------------------------------------------------------------------


ATTEMPT_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def attempt_id_for(order_id: str, attempt_no: int) -> str:
    """Attempt n of an order has one id: 32 characters, valid as any channel's out_trade_no."""
    return "pa" + hashlib.sha256(f"{order_id}#{attempt_no}".encode()).hexdigest()[:30]


def part_attempt_id(order_id: str, seq: int, try_no: int) -> str:
    """Try n at paying part `seq` of an installment order has one id: two requests that read
    the same part build the same id, and only one of them charges."""
    return "pa" + hashlib.sha256(f"{order_id}#part{seq}#{try_no}".encode()).hexdigest()[:30]


def for_part(seen: Sequence[PaymentAttempt], seq: int) -> list[PaymentAttempt]:
    return [a for a in seen if a.part_seq is not None and int(a.part_seq) == seq]


def refuse_paid_part(seen: Sequence[PaymentAttempt], seq: int | None) -> None:
    """409 `payment_in_progress` when an attempt `seen` already paid part `seq`: the order
    read before it is stale (a second tap), and its request is not one for the next part."""
    if seq is not None and any(a.outcome == pm.APPLIED for a in for_part(seen, seq)):
        raise errors.conflict("payment_in_progress", "this part was just paid by another payment; reload")


def attempts_for(order_id: str) -> list[PaymentAttempt]:
    return list(PaymentAttempt.by_order.query(order_id))


def get_attempt(attempt_id: str) -> PaymentAttempt | None:
    """Our attempt by id; None for an id we could never have issued (a channel's signed but
    empty or odd reference is an unknown trade: acknowledged and flagged, never a 500)."""
    if not ATTEMPT_ID.fullmatch(attempt_id):
        return None
    try:
        return PaymentAttempt.get(attempt_id, consistent_read=True)
    except DoesNotExist:
        return None


def paid_attempt(order_id: str) -> PaymentAttempt | None:
    """The attempt that paid the order (refunds of a paid order go back through it)."""
    for attempt in attempts_for(order_id):
        if attempt.outcome == pm.APPLIED and attempt.status in (pm.SUCCEEDED, pm.REFUNDED):
            return get_attempt(attempt.attempt_id)
    return None


def new_attempt(
    order_id: str,
    user_id: str,
    channel: str,
    amount_fen: int,
    purpose: str,
    now: datetime,
    *,
    card_token: str | None = None,
    card_last4: str | None = None,
    status: str = pm.PENDING,
    collection_round: int | None = None,
    part: tuple[int, str] | None = None,
    seen: Sequence[PaymentAttempt],
) -> PaymentAttempt:
    """The order's next attempt, numbered after the attempts `seen`.

    Pass the attempts the caller decided on (it saw none pending): two callers that decided
    on the same view then build the same attempt id, and `save_attempt`'s condition lets
    only one of them charge (409 `payment_in_progress` for the other). Numbering from a
    fresh read instead would give the second caller the next id: two taps on "pay now"
    charged the card twice. A caller whose view includes the first's attempt saw it pending.
    `part`: (seq, scope) of an installment order's part it pays; its id is then numbered
    among that part's attempts (`part_attempt_id`).
    """
    attempt_no = max((int(a.attempt_no) for a in seen), default=0) + 1
    attempt_id = attempt_id_for(order_id, attempt_no)
    if part is not None:
        attempt_id = part_attempt_id(order_id, part[0], len(for_part(seen, part[0])) + 1)
    return PaymentAttempt(
        attempt_id,
        order_id=order_id,
        attempt_no=attempt_no,
        user_id=user_id,
        channel=channel,
        purpose=purpose,
        amount_fen=amount_fen,
        currency=settings().rules.currency,
        status=status,
        instrument_token=card_token,
        card_last4=card_last4,
        collection_round=collection_round,
        part_seq=part[0] if part else None,
        part_scope=part[1] if part else None,
        created_at=iso(now),
        updated_at=iso(now),
    )


def open_trade(
    seen: Sequence[PaymentAttempt], channel: str, amount_fen: int, part: tuple[int, str] | None = None
) -> PaymentAttempt | None:
    """The latest pending attempt of `channel` for this amount (and this part): launched again,
    it is the same out_trade_no, which the channel itself never takes twice."""
    pending = [
        a
        for a in seen
        if a.status == pm.PENDING and a.channel == channel and int(a.amount_fen) == amount_fen and _part_of(a) == part
    ]
    return pending[-1] if pending else None


def _part_of(attempt: PaymentAttempt) -> tuple[int, str] | None:
    if attempt.part_seq is None:
        return None
    return int(attempt.part_seq), str(attempt.part_scope)


def save_attempt(tx: Tx, attempt: PaymentAttempt) -> None:
    tx.save(
        attempt,
        condition=PaymentAttempt.attempt_id.does_not_exist(),
        on_fail=errors.conflict("payment_in_progress", "another payment of this order started meanwhile; retry"),
    )


def payment_ref(attempt: PaymentAttempt, expires_at: str | None = None) -> ch.PaymentRef:
    """What a channel needs about an attempt; `expires_at`: the order's payment deadline."""
    return ch.PaymentRef(
        attempt_id=attempt.attempt_id,
        order_id=attempt.order_id,
        user_id=attempt.user_id,
        amount_fen=int(attempt.amount_fen),
        currency=attempt.currency,
        created_at=parse_iso(attempt.created_at),
        instrument_token=attempt.instrument_token,
        description=f"PayLater {attempt.order_id}",
        expires_at=parse_iso(expires_at) if expires_at else None,
    )


# --- ledger legs and wording -----------------------------------------------------------------


def money_in_legs(attempt: PaymentAttempt) -> list[Leg]:
    amount = int(attempt.amount_fen)
    if attempt.channel == ch.WALLET:
        return wallet_channel.debit_legs(attempt.user_id, amount)
    return ledger.money_in(attempt.channel, amount)


def refund_legs(attempt: PaymentAttempt, amount_fen: int) -> list[Leg]:
    if attempt.channel == ch.WALLET:
        return wallet_channel.credit_legs(attempt.user_id, amount_fen)
    return ledger.money_out(attempt.channel, amount_fen)


CHANNEL_NAMES = {ch.CARD: "银行卡", ch.ALIPAY: "支付宝", ch.WECHAT_PAY: "微信支付", ch.WALLET: "钱包余额"}
