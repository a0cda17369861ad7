"""Block and allow lists (黑白名单) by user, device, card, delivery address and phone.

A value is kept only as a keyed hash (HMAC under the stage's PII hash key): the entry's id is
derived from it, so a decision reads an entry by key in its one BatchGet, and a value is on
one list at most once. People see a masked hint, who added it and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ... import batch, errors, pagination
from ...clock import iso
from ...db import Tx
from ...idempotency import IdemScope
from ...models.risk import ALLOW, BLOCK, RiskListEntry
from ...models.users import User
from .. import duties
from .signals import entry_id, listed_value, normalise

ADD_ERRORS = errors.raises(conflict=["already_listed"]) | duties.OWN_CASE_ERRORS
REMOVE_ERRORS = errors.raises(not_found=["list_entry_not_found"]) | duties.OWN_CASE_ERRORS
CASE = "place on the risk lists"


def _own_entry(operator_id: str) -> str:
    """The entry that would list the operator themselves (as a user)."""
    return entry_id("user", operator_id)


def _own_entries(operator_id: str, user: User | None) -> set[str]:
    """The entries that would list the operator: as a user, by the card they pay with (its
    fingerprint or id) or by the device they confirm from (what their user item names)."""
    own = {_own_entry(operator_id)}
    if user is None:
        return own
    cards = (user.default_card_fingerprint, user.default_card_id)
    own |= {entry_id("card", str(v)) for v in cards if v}
    if user.last_device_id:
        own.add(entry_id("device", str(user.last_device_id)))
    return own


def hint_of(kind: str, value: str) -> str:
    """Enough for a person to recognise the value, never the value: its last 4 characters."""
    plain = normalise(kind, value)
    return "…" + plain[-4:] if len(plain) > 4 else "…"


def add(
    operator_id: str,
    list_name: str,
    kind: str,
    value: str,
    reason: str,
    now: datetime,
    idem: IdemScope | None = None,
) -> RiskListEntry:
    """Put a value on the block or allow list (a value already listed is a 409). A card
    entered by its number is listed by its fingerprint: every account it is bound to. Nobody
    allow-lists themselves (403 `own_case`): the allow list comes before every rule."""
    eid = entry_id(kind, listed_value(kind, value))
    if list_name == ALLOW and eid == _own_entry(operator_id):
        duties.refuse_own_case(operator_id, operator_id, CASE)
    at = iso(now)
    entry = RiskListEntry(
        eid,
        list_name=list_name,
        kind=kind,
        hint=hint_of(kind, value),
        reason=reason,
        added_by=operator_id,
        added_at=at,
        added_key=f"{at}#{eid}",
    )
    tx = Tx()
    tx.save(
        entry,
        condition=RiskListEntry.entry_id.does_not_exist(),
        on_fail=errors.conflict("already_listed", "this value is already on a list; remove it first"),
    )
    if idem is not None:
        idem.stage(tx, entry)
    tx.commit()
    return entry


def entries(list_name: str, *, limit: int, cursor: str | None) -> tuple[list[RiskListEntry], str | None]:
    """One list, newest first."""
    scope = f"risk-list:{list_name}"
    result = RiskListEntry.by_list.query(
        list_name,
        scan_index_forward=False,
        limit=limit,
        page_size=limit,
        last_evaluated_key=pagination.decode(cursor, scope),
    )
    items = list(result)
    return items, pagination.encode(result.last_evaluated_key, scope)


def remove(operator_id: str, entry: str, idem: IdemScope | None = None) -> None:
    """Take an entry off its list (an unknown one is a 404); nobody lifts their own block,
    nor their card's or device's (403 `own_case`)."""
    found, user = batch.get_many([(RiskListEntry, entry, None), (User, operator_id, None)])  # one read
    if not isinstance(found, RiskListEntry):
        raise errors.not_found("list_entry_not_found", "no such list entry")
    if found.list_name == BLOCK and entry in _own_entries(operator_id, user if isinstance(user, User) else None):
        duties.refuse_own_case(operator_id, operator_id, CASE)
    tx = Tx()
    tx.delete(
        found,
        condition=RiskListEntry.entry_id.exists(),
        on_fail=errors.not_found("list_entry_not_found", "no such list entry"),
    )
    if idem is not None:
        idem.stage(tx, None)
    tx.commit()


def refuse_blocked_card(tx: Tx, values: Sequence[str | None], refusal: errors.DomainError) -> None:
    """In `tx`: a card known by any of `values` (its fingerprint, its id) is on no block list
    (checked in the transaction that relies on it, so a block added meanwhile is seen)."""
    for value in dict.fromkeys(v for v in values if v):
        tx.check(
            RiskListEntry,
            entry_id("card", value),
            condition=RiskListEntry.entry_id.does_not_exist() | (RiskListEntry.list_name == ALLOW),
            on_fail=refusal,
        )
