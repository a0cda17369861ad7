"""A user's 先用后付 standing, changed here only: the unpaid count, the overdue count and the
freeze (guide 第五步: an overdue order pauses 先用后付 until every overdue order is paid).

- `opened`: a 先用后付 order is confirmed (one unpaid more);
- `went_overdue`: a collection was declined (one overdue more, 先用后付 frozen);
- `closed`: the order owes nothing any more (paid, or returned): one unpaid fewer, and an
  overdue one also leaves the overdue count; the freeze lifts with the last overdue order.
  Conditional on the overdue count read, so a concurrent decline elsewhere makes the
  transaction retry rather than lose the freeze;
- `cancelled`: an order cancelled before receipt (never overdue).
"""

from __future__ import annotations

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from ...db import Tx
from ...models.users import BNPL_ACTIVE, BNPL_FROZEN, User


def opened() -> list[Action]:
    return [User.unpaid_bnpl_count.add(1)]


def went_overdue(tx: Tx, user_id: str) -> None:
    tx.update(
        User(user_id),
        [User.overdue_open_count.add(1), User.bnpl_status.set(BNPL_FROZEN)],
        condition=User.user_id.exists(),
    )


def closed(user: User, *, was_overdue: bool) -> tuple[list[Action], Condition]:
    """The update (and its condition) for a 先用后付 order of `user` that owes nothing now."""
    actions: list[Action] = [User.unpaid_bnpl_count.add(-1)]
    condition = User.unpaid_bnpl_count > 0
    if was_overdue:
        cured, same_count = overdue_cleared(user)
        actions += cured
        condition &= same_count
    return actions, condition


def overdue_cleared(user: User) -> tuple[list[Action], Condition]:
    """An overdue order (or installment part) was paid: one overdue fewer, the freeze lifts
    with the last; conditional on the overdue count read."""
    overdue = int(user.overdue_open_count or 0)
    actions: list[Action] = [User.overdue_open_count.add(-1)]
    if overdue <= 1 and user.bnpl_status == BNPL_FROZEN:
        actions.append(User.bnpl_status.set(BNPL_ACTIVE))
    return actions, User.overdue_open_count == overdue


def cancelled(tx: Tx, user_id: str) -> None:
    tx.update(User(user_id), [User.unpaid_bnpl_count.add(-1)], condition=User.unpaid_bnpl_count >= 1)


def standings(user_ids: list[str]) -> dict[str, User]:
    """The profiles of these users in one batch read (what a reviewer weighs: 先用后付
    status, account age, on-time and overdue counts); unknown ids are left out."""
    unique = sorted(set(user_ids))
    if not unique:
        return {}
    return {u.user_id: u for u in User.batch_get(unique)}
