"""Account closure against every action that opens something for the user, by construction.

Closure first marks the user item `closing` (services/privacy.py), then reads what is open,
then commits on the user item conditioned on the marker and on the open-thing counters.
Every opening action (a checkout, a confirmation, a redemption, a return request, a
dispute) writes the user item in its own transaction on condition that the account is
neither closing nor closed. Both sides write one item, so whichever commits first wins
and the other is a 409: `account_closing` for the opening action, `account_not_closable`
for the closure (it sees what was opened).
"""

from __future__ import annotations

from collections.abc import Sequence

from pynamodb.attributes import NumberAttribute
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from .. import errors
from ..db import Tx
from ..models.users import User


def account_closing() -> errors.DomainError:
    return errors.conflict("account_closing", "the account is being closed (or was closed): nothing new can open")


CLOSING_ERRORS = errors.raises(conflict=["account_closing"])


def still_open() -> Condition:
    """The user item's condition for an action that opens something."""
    condition: Condition = User.closed_at.does_not_exist() & User.closing_id.does_not_exist()
    return condition


def none_open(counter: NumberAttribute) -> Condition:
    """Nothing of a counter's kind is open (a counter never written is none open)."""
    condition: Condition = counter.does_not_exist() | (counter <= 0)
    return condition


def opens(tx: Tx, user_id: str, actions: Sequence[Action] = ()) -> None:
    """Add to `tx` the user item's part of an opening action: `actions` (e.g. a counter up)
    on condition that no closure has begun."""
    if actions:
        tx.update(User(user_id), actions, condition=still_open(), on_fail=account_closing())
    else:
        tx.check(User, user_id, condition=still_open(), on_fail=account_closing())


def refusal(err: errors.DomainError, user_id: str) -> errors.DomainError:
    """The error for a failed user-item condition that also guards other rules (e.g. the
    先用后付 freeze): `account_closing` when that is what changed."""
    try:
        user = User.get(user_id, consistent_read=True)
    except User.DoesNotExist:
        return err
    return account_closing() if user.closed_at or user.closing_id else err
