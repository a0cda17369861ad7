"""The address book (guide step 4's 收货地址): up to 20 saved addresses, one default.

- The default is one pointer on the user item (`default_address_id`), so two defaults
  cannot exist; the first address saved becomes it, `is_default: true` moves it.
- Deleting the default promotes the most recently added remaining address; deleting
  the last one leaves no default. The default cannot be un-defaulted by itself
  (`is_default: false` on it is a 409): choose another default instead.
- `address_count` on the user item caps the book: every add is conditioned on it, so
  concurrent adds cannot pass 20.
- Names, phones and addresses are personal data: nothing here logs them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from .. import batch, errors
from ..clock import iso
from ..db import Tx
from ..models.addresses import Address as Address
from ..models.users import User
from ..observability import logger
from . import accounts

if TYPE_CHECKING:
    from ..idempotency import IdemScope

MAX_ADDRESSES = 20
WRITE_TRIES = 3
_MOVED = "addresses_changed"


@dataclass(frozen=True)
class Saved:
    """An address as written, and which address is the default after the write."""

    address: Address
    default_address_id: str | None


@dataclass(frozen=True)
class AddressBook:
    items: list[Address]
    default_address_id: str | None


def address_not_found() -> errors.DomainError:
    return errors.not_found("address_not_found", "no such address")


NOT_FOUND_ERRORS = errors.raises(not_found=["address_not_found"])
ADD_ERRORS = errors.raises(conflict=["address_book_full", "state_changed"])
UPDATE_ERRORS = NOT_FOUND_ERRORS | errors.raises(conflict=["default_address_required"])
DELETE_ERRORS = NOT_FOUND_ERRORS | errors.raises(conflict=["state_changed"])
MOVED_ERRORS = errors.raises(conflict=[_MOVED])  # a lost race on the book: retried inside


def book(user_id: str, now: datetime) -> AddressBook:
    """The caller's addresses, oldest first, and which one is the default."""
    user = accounts.get_or_create(user_id, now)
    return AddressBook(_addresses(user_id), user.default_address_id)


def _addresses(user_id: str) -> list[Address]:
    return sorted(Address.query(user_id, consistent_read=True), key=lambda a: (a.created_at, a.address_id))


def get(user_id: str, address_id: str) -> Address:
    """The caller's address (another user's is a 404, like a missing one: the key has the user)."""
    try:
        return Address.get(user_id, address_id, consistent_read=True)
    except DoesNotExist as exc:
        raise address_not_found() from exc


def snapshot(user_id: str, address_id: str) -> dict[str, str]:
    """A copy of the address as it is now, for an order to keep."""
    return get(user_id, address_id).fields()


def _retrying(write: Callable[[], None]) -> None:
    for _ in range(WRITE_TRIES):
        try:
            write()
            return
        except errors.DomainError as err:
            if err.code != _MOVED:
                raise
    raise errors.state_changed("the address book changed meanwhile; retry")


def add(
    user_id: str, fields: dict[str, str], is_default: bool | None, now: datetime, idem: IdemScope | None = None
) -> Saved:
    """Save an address; the first one (or one sent with `is_default: true`) becomes the default."""
    address = Address(user_id, "addr_" + uuid.uuid4().hex[:20], created_at=iso(now), updated_at=iso(now))
    for name, value in fields.items():
        setattr(address, name, value)
    saved: list[Saved] = []

    def write() -> None:
        user = accounts.get_or_create(user_id, now)
        count = int(user.address_count or 0)
        if count >= MAX_ADDRESSES:
            raise errors.conflict("address_book_full", f"the address book holds at most {MAX_ADDRESSES} addresses")
        condition = User.address_count == count
        if count == 0:
            condition |= User.address_count.does_not_exist()
        actions: list[Action] = [User.address_count.set(count + 1)]
        default = user.default_address_id
        if is_default or default is None:
            actions.append(User.default_address_id.set(address.address_id))
            default = address.address_id
        tx = Tx()
        tx.save(address, condition=Address.address_id.does_not_exist())
        tx.update(user, actions, condition=condition, on_fail=errors.conflict(_MOVED, "the book changed"))
        result = Saved(address, default)
        if idem is not None:
            idem.stage(tx, result)
        tx.commit()
        saved.append(result)

    _retrying(write)
    logger.info("address added", extra={"address_id": address.address_id})
    return saved[-1]


def update(
    user_id: str,
    address_id: str,
    fields: dict[str, str],
    is_default: bool | None,
    now: datetime,
    idem: IdemScope | None = None,
) -> Saved:
    """Replace an address's fields; `is_default: true` makes it the default in the same transaction."""
    found, found_user = batch.get_many([(Address, user_id, address_id), (User, user_id, None)])
    if not isinstance(found, Address):
        raise address_not_found()
    if not isinstance(found_user, User):
        raise accounts.user_not_found()
    address, user = found, found_user
    if is_default is False and user.default_address_id == address_id:
        raise errors.conflict("default_address_required", "choose another default address instead")
    tx = Tx()
    tx.update(
        address,
        [getattr(Address, k).set(v) for k, v in fields.items()] + [Address.updated_at.set(iso(now))],
        condition=Address.address_id.exists(),
        on_fail=address_not_found(),
    )
    default = user.default_address_id
    if is_default and default != address_id:
        # One pointer moves: the old default stops being it in the same write.
        tx.update(user, [User.default_address_id.set(address_id)], condition=User.user_id.exists())
        default = address_id
    for name, value in fields.items():  # the address as written: no read after the write
        setattr(address, name, value)
    address.updated_at = iso(now)
    result = Saved(address, default)
    if idem is not None:
        idem.stage(tx, result)
    tx.commit()
    logger.info("address updated", extra={"address_id": address_id})
    return result


def delete(user_id: str, address_id: str) -> None:
    """Delete an address; deleting the default promotes the most recently added other one.

    The user update is conditioned on which address is the default, so a delete racing
    another delete (or a default change) re-reads and decides again.
    """

    def write() -> None:
        address = get(user_id, address_id)
        user = accounts.get(user_id)
        moved = errors.conflict(_MOVED, "the book changed")
        tx = Tx()
        tx.delete(address, condition=Address.address_id.exists(), on_fail=address_not_found())
        actions: list[Action] = [User.address_count.add(-1)]
        if user.default_address_id == address_id:
            condition = User.default_address_id == address_id
            others = [a for a in _addresses(user_id) if a.address_id != address_id]
            if others:
                successor = others[-1]
                actions.append(User.default_address_id.set(successor.address_id))
                tx.check(Address, user_id, successor.address_id, condition=Address.address_id.exists(), on_fail=moved)
            else:
                actions.append(User.default_address_id.remove())
        else:
            condition = User.default_address_id.does_not_exist() | (User.default_address_id != address_id)
        tx.update(user, actions, condition=condition, on_fail=moved)
        tx.commit()

    _retrying(write)
    logger.info("address deleted", extra={"address_id": address_id})
