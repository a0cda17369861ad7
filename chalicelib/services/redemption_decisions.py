"""A redemption's decision written (services/redemption.py decides which): one conditional
transition from the status read, its ledger events and the user's notification, in one
transaction. Approved: cash credited, held points consumed; rejected: held points released;
`manual_review`: held for a reviewer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.expressions.update import Action

from .. import errors, ledger
from ..clock import iso
from ..db import Tx
from ..idempotency import IdemScope
from ..ledger import CASH, PLATFORM, POINTS, POINTS_HELD, POINTS_ISSUED, REWARDS_EXPENSE, Leg
from ..models.redemptions import APPROVED, MANUAL_REVIEW, OPEN, REJECTED, Redemption
from ..models.users import BNPL_FROZEN, User
from . import notifications

# Decided already, or the account moved under the automatic review (it is retried).
DECISION_ERRORS = errors.raises(conflict=["illegal_transition"], unavailable=["review_inputs_changed"])

OUTCOME_MESSAGES = {
    APPROVED: ("兑现成功", "¥{yuan} 已到账钱包余额 ({points} 积分)。"),
    REJECTED: ("兑现未通过", "兑现 ¥{yuan} 的申请未通过审核, {points} 积分已退回。"),
    MANUAL_REVIEW: ("兑现审核中", "兑现 ¥{yuan} 的申请需要人工审核, 请耐心等待。"),
}


def decide(
    item: Redemption,
    to: str,
    *,
    actor: str,
    reason: str,
    note: str | None,
    now: datetime,
    user_unchanged: bool = False,
    idem: IdemScope | None = None,
) -> None:
    """One conditional transition from the current status, with its ledger events and the
    user's notification, in one transaction. Updates `item` in memory to the new state.

    `user_unchanged`: the auto-approval read the user, so it holds only if nothing changed since."""
    rid, current, at = item.redemption_id, str(item.status), iso(now)
    entry: dict[str, Any] = {"status": to, "at": at, "actor": actor, "reason": reason}
    if note:
        entry["note"] = note
    history = [*list(item.history or []), entry]
    tx = Tx()
    tx.update(
        Redemption(rid),
        _status_actions(to, reason, at, history, actor, note),
        condition=Redemption.status == current,
        on_fail=errors.illegal_transition("redemption", "already decided", f"move to {to}"),
    )
    if to not in OPEN:  # decided: one open redemption fewer (closure conditions on the count)
        _close_on_user(tx, item.user_id, still_clear=to == APPROVED and user_unchanged)
    _post(tx, item, to, now)
    amount, points = int(item.amount_fen), int(item.points)
    title, body = OUTCOME_MESSAGES[to]
    notify_user(
        tx,
        item.user_id,
        kind=f"redemption_{to}",
        title=title,
        body=body.format(yuan=f"{amount / 100:.2f}", points=points),
        ref=rid,
        event_id=f"redemption:{rid}:{to}",
        now=now,
    )
    item.status = to
    item.reason = reason
    item.updated_at = at
    item.history = history
    if to in OPEN:
        item.open_status = to
    else:
        item.open_status = None
        item.decided_at, item.decided_by = at, actor
        item.decision_note = note or item.decision_note
    if idem is not None:
        idem.stage(tx, item)
    tx.commit()


def _status_actions(
    to: str, reason: str, at: str, history: list[dict[str, Any]], actor: str, note: str | None
) -> list[Action]:
    actions: list[Action] = [
        Redemption.status.set(to),
        Redemption.reason.set(reason),
        Redemption.updated_at.set(at),
        Redemption.history.set(history),
    ]
    if to in OPEN:
        actions.append(Redemption.open_status.set(to))
    else:
        actions += [Redemption.open_status.remove(), Redemption.decided_at.set(at), Redemption.decided_by.set(actor)]
        if note:
            actions.append(Redemption.decision_note.set(note))
    return actions


def _close_on_user(tx: Tx, user_id: str, *, still_clear: bool) -> None:
    """One open redemption fewer on the user; an auto-approval also conditions on the user
    being as it read them (not frozen, nothing overdue)."""
    unchanged = None
    if still_clear:
        unchanged = (User.bnpl_status != BNPL_FROZEN) & (
            (User.overdue_open_count == 0) | User.overdue_open_count.does_not_exist()
        )
    tx.update(
        User(user_id),
        [User.open_redemptions.add(-1)],
        condition=unchanged,
        on_fail=errors.unavailable("review_inputs_changed", "the account changed during review; retry"),
    )


def _post(tx: Tx, item: Redemption, to: str, now: datetime) -> None:
    """Approved: the cash credited and the held points consumed; rejected: the points back."""
    rid, account = item.redemption_id, ledger.user_account(item.user_id)
    amount, points = int(item.amount_fen), int(item.points)
    if to == APPROVED:
        ledger.post(
            tx,
            event_id=f"redemption:{rid}:credited",
            kind="redemption_credited",
            at=now,
            legs=[Leg(account, CASH, amount), Leg(PLATFORM, REWARDS_EXPENSE, -amount)],
            ref=rid,
        )
        ledger.post(
            tx,
            event_id=f"redemption:{rid}:points_consumed",
            kind="redemption_points_consumed",
            at=now,
            legs=[Leg(account, POINTS_HELD, -points), Leg(PLATFORM, POINTS_ISSUED, points)],
            ref=rid,
        )
    elif to == REJECTED:
        ledger.post(
            tx,
            event_id=f"redemption:{rid}:released",
            kind="redemption_released",
            at=now,
            legs=[Leg(account, POINTS_HELD, -points), Leg(account, POINTS, points)],
            ref=rid,
        )


def notify_user(
    tx: Tx, user_id: str, *, kind: str, title: str, body: str, ref: str, event_id: str, now: datetime
) -> None:
    """Tell the user about a redemption outcome, inside the transaction that decides it
    (so a duplicate delivery cannot notify twice)."""
    notifications.notify(tx, user_id, kind, title, body, ref, event_id, now)
