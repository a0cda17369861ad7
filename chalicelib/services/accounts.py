"""Accounts: the profile, real-name verification, bank cards, payment password (devices:
`devices.py`)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.update import Action

from .. import batch, errors, pii
from ..channels import card_vault
from ..clock import iso
from ..config import settings
from ..db import Tx, condition_failed
from ..errors import FieldError
from ..models.users import BankCard as BankCard
from ..models.users import UniqueClaim
from ..models.users import User as User
from . import validators
from .password_tries import commit_releasing_try, encode_password
from .password_tries import release_try as release_try
from .password_tries import tries_released as tries_released
from .password_tries import verify_password as verify_password
from .risk import lists as risk_lists

if TYPE_CHECKING:
    from ..idempotency import IdemScope


def get_or_create(user_id: str, now: datetime) -> User:
    """The caller's profile, created on first sight (Cognito owns sign-up)."""
    try:
        return User.get(user_id, consistent_read=True)
    except DoesNotExist:
        pass
    user = User(user_id, created_at=iso(now))
    try:
        user.save(condition=User.user_id.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        return User.get(user_id, consistent_read=True)
    return user


def user_not_found() -> errors.DomainError:
    return errors.not_found("user_not_found", "no such user")


def get(user_id: str) -> User:
    try:
        return User.get(user_id, consistent_read=True)
    except DoesNotExist as exc:
        raise user_not_found() from exc


# What the account operations refuse with (a route documents what the services it calls declare).
_WRONG_PASSWORD = errors.raises(unprocessable=["payment_password_incorrect"], locked=["payment_password_locked"])
STEP_UP_ERRORS = _WRONG_PASSWORD | errors.raises(unprocessable=["payment_password_not_set", "device_not_registered"])
PASSWORD_ERRORS = _WRONG_PASSWORD | errors.raises(unprocessable=["weak_password", "old_password_required"])
IDENTITY_ERRORS = errors.raises(
    conflict=["identity_already_verified", "id_number_in_use"],
    unprocessable=["invalid_id_number", "invalid_real_name", "underage"],
)
ADD_CARD_ERRORS = errors.raises(conflict=["card_already_bound"], unprocessable=["invalid_card_number"])
REMOVE_CARD_ERRORS = errors.raises(not_found=["card_not_found"], conflict=["card_in_use"])
DEFAULT_CARD_ERRORS = errors.raises(
    not_found=["card_not_found"], conflict=["state_changed"], unprocessable=["card_not_accepted"]
)
# Not on the routes: `state_changed` after the retries, `cards_changed` (retried), a lost user item.
UNDOCUMENTED_ERRORS = errors.raises(conflict=["cards_changed", "state_changed"], not_found=["user_not_found"])


# --- real-name verification (实名认证) -------------------------------------------------


def verify_identity(user_id: str, real_name: str, id_number: str, now: datetime) -> User:
    """Record a verified identity: valid GB 11643 number, adult, one ID per account."""
    user = get_or_create(user_id, now)
    if user.verified_at:
        raise errors.conflict("identity_already_verified", "this account's identity is already verified")
    if not all("\u4e00" <= ch <= "\u9fff" or ch in "·." or ch.isalpha() for ch in real_name):
        raise errors.unprocessable(
            "invalid_real_name",
            "the real name has characters a name cannot have",
            [FieldError("real_name", "letters, Chinese characters and '·' only")],
        )
    try:
        number, born = validators.parse_id_number(id_number, now.date())
    except validators.InvalidValue as exc:
        raise errors.unprocessable("invalid_id_number", str(exc), [FieldError("id_number", str(exc))]) from exc
    age = validators.age_on(born, now.date())
    if age < settings().rules.min_age_years:
        raise errors.unprocessable(
            "underage",
            f"先用后付 needs an account holder aged {settings().rules.min_age_years} or over",
            [FieldError("id_number", "the holder is under age")],
        )
    id_hash = pii.keyed_hash("id_number", number)
    tx = Tx()
    tx.save(
        UniqueClaim(f"id_number#{id_hash}", owner=user_id, created_at=iso(now)),
        condition=UniqueClaim.claim.does_not_exist(),
        on_fail=errors.conflict("id_number_in_use", "this ID number is already verified on another account"),
    )
    tx.update(
        user,
        [
            User.real_name_masked.set(pii.mask_name(real_name)),
            User.real_name_cipher.set(pii.encrypt(real_name, f"name:{user_id}")),
            User.id_number_masked.set(pii.mask_id_number(number)),
            User.id_number_hash.set(id_hash),
            User.id_number_cipher.set(pii.encrypt(number, f"id:{user_id}")),
            User.birth_date.set(born.isoformat()),
            User.verified_at.set(iso(now)),
        ],
        condition=User.verified_at.does_not_exist(),
        on_fail=errors.conflict("identity_already_verified", "this account's identity is already verified"),
    )
    tx.commit()
    return get(user_id)


# --- bank cards -------------------------------------------------------------------------


def list_cards(user_id: str) -> list[BankCard]:
    return sorted(BankCard.query(user_id), key=lambda c: c.created_at)


def add_card(user_id: str, card_number: str, now: datetime, idem: IdemScope | None = None) -> BankCard:
    """Bind a Luhn-valid card as a gateway token; the first card becomes the default.
    Answers the card as written (`idem` stages that answer in the write)."""
    user = get_or_create(user_id, now)
    try:
        digits = validators.parse_card_number(card_number)
    except validators.InvalidValue as exc:
        raise errors.unprocessable("invalid_card_number", str(exc), [FieldError("card_number", str(exc))]) from exc
    token = card_vault.tokenize(digits)
    card_id = "card_" + hashlib.sha256(f"{user_id}:{token.fingerprint}".encode()).hexdigest()[:20]
    first = user.default_card_id is None
    card = BankCard(
        user_id,
        card_id,
        gateway_token=token.token,
        last4=token.last4,
        bank=token.bank,
        fingerprint=token.fingerprint,
        is_default=first,
        created_at=iso(now),
    )
    tx = Tx()
    tx.save(
        card,
        condition=BankCard.card_id.does_not_exist(),
        on_fail=errors.conflict("card_already_bound", "this card is already bound to the account"),
    )
    if first:
        tx.update(
            user,
            [User.default_card_id.set(card_id), User.default_card_fingerprint.set(token.fingerprint)],
            condition=User.default_card_id.does_not_exist(),
            on_fail=errors.state_changed("another card was bound at the same time; retry"),
        )
    if idem is not None:
        idem.stage(tx, card)
    tx.commit()
    return card


_CARDS_MOVED = "cards_changed"
REMOVE_TRIES = 3


def remove_card(user_id: str, card_id: str, now: datetime) -> None:
    """Unbind a card; the auto-debit card stays while an unpaid 先用后付 order needs it.

    Every removal is conditioned on the user item (which card is the default), so two
    removals at once cannot leave `default_card_id` naming a deleted card, nor a user with
    unpaid 先用后付 orders without a card: the later one re-reads and decides again.
    """
    for _ in range(REMOVE_TRIES):
        try:
            _remove_card_once(user_id, card_id)
            return
        except errors.DomainError as err:
            if err.code != _CARDS_MOVED:
                raise
    raise errors.state_changed("the cards changed meanwhile; retry")


def _remove_card_once(user_id: str, card_id: str) -> None:
    try:
        card = BankCard.get(user_id, card_id, consistent_read=True)
    except DoesNotExist as exc:
        raise errors.not_found("card_not_found", "no such card") from exc
    user = get(user_id)
    moved = errors.conflict(_CARDS_MOVED, "the cards changed meanwhile")
    tx = Tx()
    tx.delete(card, condition=BankCard.card_id.exists(), on_fail=errors.not_found("card_not_found", "no such card"))
    if user.default_card_id == card_id:
        others = [c for c in list_cards(user_id) if c.card_id != card_id]
        successor = others[-1] if others else None
        condition = User.default_card_id == card_id
        if successor is None:
            condition &= (User.unpaid_bnpl_count == 0) | User.unpaid_bnpl_count.does_not_exist()
            if user.bnpl_status != "inactive" and (user.unpaid_bnpl_count or 0) > 0:
                raise errors.conflict(
                    "card_in_use", "this card pays unpaid 先用后付 orders; pay them or bind another card first"
                )
        actions = _default_card_actions(successor)
        tx.update(user, actions, condition=condition, on_fail=moved)
        if successor:
            tx.update(successor, [BankCard.is_default.set(True)], condition=BankCard.card_id.exists(), on_fail=moved)
    else:
        # Not the default now: it must not become the default (another removal's successor) meanwhile.
        tx.check(
            User,
            user_id,
            condition=User.default_card_id.does_not_exist() | (User.default_card_id != card_id),
            on_fail=moved,
        )
    tx.commit()


def _default_card_actions(card: BankCard | None) -> list[Action]:
    """The user item's pointer to its default card, and that card's fingerprint (risk)."""
    if card is None:
        return [User.default_card_id.remove(), User.default_card_fingerprint.remove()]
    fingerprint = User.default_card_fingerprint
    return [
        User.default_card_id.set(card.card_id),
        fingerprint.set(card.fingerprint) if card.fingerprint else fingerprint.remove(),
    ]


def set_default_card(user_id: str, card_id: str, idem: IdemScope | None = None) -> BankCard:
    """Choose the card the 先用后付 window's close charges (`default_card_id`).

    One read (the card and the user together) and one transaction: the chosen card must
    still exist (a removal racing this one fails one of the two), the old default's flag
    drops, and the user's pointer moves from the default it was read with; a card on the
    risk block list is not accepted (the decision saw the default card at confirmation: the
    window's close must not charge another that is listed). Answers the card as written
    (`idem` stages that answer in the write).
    """
    found, found_user = batch.get_many([(BankCard, user_id, card_id), (User, user_id, None)])
    if not isinstance(found, BankCard):
        raise errors.not_found("card_not_found", "no such card")
    if not isinstance(found_user, User):
        raise user_not_found()
    card, user = found, found_user
    if user.default_card_id == card_id:
        return card
    moved = errors.state_changed("the cards changed meanwhile; retry")
    tx = Tx()
    tx.update(
        card,
        [BankCard.is_default.set(True)],
        condition=BankCard.card_id.exists(),
        on_fail=errors.not_found("card_not_found", "no such card"),
    )
    old = user.default_card_id
    if old:
        tx.update(BankCard(user_id, old), [BankCard.is_default.set(False)], condition=BankCard.card_id.exists())
    not_accepted = errors.unprocessable(
        "card_not_accepted", "this card cannot be used for 先用后付 payments; choose another card"
    )
    risk_lists.refuse_blocked_card(tx, [card.fingerprint, card.card_id], not_accepted)
    tx.update(
        user,
        _default_card_actions(card),
        condition=(User.default_card_id == old) if old else User.default_card_id.does_not_exist(),
        on_fail=moved,
    )
    card.is_default = True  # the card as written: no read after the write
    if idem is not None:
        idem.stage(tx, card)
    tx.commit()
    return card


def default_card(user: User) -> BankCard | None:
    if not user.default_card_id:
        return None
    try:
        return BankCard.get(user.user_id, user.default_card_id)
    except DoesNotExist:
        return None


# --- payment password -------------------------------------------------------------------


def set_password(
    user_id: str, password: str, old_password: str | None, now: datetime, idem: IdemScope | None = None
) -> User:
    """Set or change the 6-digit payment password; a change needs the old one."""
    user = get_or_create(user_id, now)
    if validators.weak_password(password):
        raise errors.unprocessable(
            "weak_password",
            "choose a password that is not one repeated digit or a run like 123456",
            [FieldError("password", "too easy to guess")],
        )
    if user.password_hash:
        if old_password is None:
            raise errors.unprocessable(
                "old_password_required",
                "changing the password needs the old one",
                [FieldError("old_password", "required to change the password")],
            )
        verify_password(user, old_password, now, release_later=True)
    new_hash = encode_password(password)
    condition = User.password_hash == user.password_hash if user.password_hash else User.password_hash.does_not_exist()
    tx = Tx()
    tx.update(
        user,
        [User.password_hash.set(new_hash), *tries_released()],
        condition=condition,
        on_fail=errors.state_changed("the password changed meanwhile; retry"),
    )
    commit_releasing_try(tx, user, result=user, idem=idem)
    return user
