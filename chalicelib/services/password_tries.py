"""The payment password's secret and its tries: scrypt hashes, the count of wrong tries and
the lock after too many (a step-up claims a try before it runs the slow check)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pynamodb.exceptions import UpdateError

from .. import errors
from ..clock import iso, parse_iso
from ..config import settings
from ..db import Tx, condition_failed
from ..errors import FieldError
from ..models.users import User

if TYPE_CHECKING:
    from ..idempotency import IdemScope

VERIFY_ERRORS = errors.raises(
    unprocessable=["payment_password_incorrect", "payment_password_not_set"],
    locked=["payment_password_locked"],
)

_SCRYPT_R, _SCRYPT_P = 8, 1


def _hash_password(pin: str, salt: bytes, n: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32, maxmem=128 * 1024 * 1024)


def encode_password(pin: str) -> str:
    n = settings().rules.password_scrypt_n
    salt = os.urandom(16)
    digest = _hash_password(pin, salt, n)
    return f"scrypt${n}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _password_matches(pin: str, stored: str) -> bool:
    _, n, salt, digest = stored.split("$")
    candidate = _hash_password(pin, base64.b64decode(salt), int(n))
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def commit_releasing_try(tx: Tx, user: User, *, result: Any, idem: IdemScope | None) -> None:
    """Commit a step-up's effect with its try released (and its response staged) in one
    transaction; a transaction refused still releases the try (the password matched)."""
    if idem is not None:
        idem.stage(tx, result)
    try:
        tx.commit()
    except errors.DomainError:
        if user.password_hash:
            release_try(user)
        raise


def verify_password(user: User, password: str, now: datetime, *, release_later: bool = False) -> None:
    """Check the payment password; 5 wrong tries lock it for 3 hours (configured).

    Each try is claimed first (a conditional increment: not locked, fewer than the maximum
    counted), and only a claimed try runs the slow KDF: parallel tries cannot check more
    passwords than the rule allows in one lock period. `release_later`: a matching try is
    released by the caller (`tries_released()` in its transaction, else `release_try`).
    """
    rules = settings().rules
    if not user.password_hash:
        raise errors.unprocessable("payment_password_not_set", "set a payment password first")
    stored = user.password_hash
    tries = _claim_try(user, now)
    if _password_matches(password, stored):
        if not release_later:
            release_try(user)
        return
    if tries >= rules.password_max_tries:
        raise _lock(user, now)
    raise errors.unprocessable(
        "payment_password_incorrect",
        f"the payment password is wrong; {rules.password_max_tries - tries} tries left",
        [FieldError("password", "incorrect")],
    )


def tries_released() -> list[Any]:
    """The update that releases the tries after a matching password."""
    return [User.password_failures.set(0), User.password_locked_until.remove()]


def release_try(user: User) -> None:
    user.update(actions=tries_released())


def _locked(until: str) -> errors.DomainError:
    return errors.Locked("payment_password_locked", f"too many wrong tries; locked until {until}")


def _unlocked(at: str) -> Any:
    return User.password_locked_until.does_not_exist() | (User.password_locked_until <= at)


def _claim_try(user: User, now: datetime) -> int:
    """Count one try before checking it; the count including it, or 423 when none is left."""
    max_tries = settings().rules.password_max_tries
    at = iso(now)
    room = User.password_failures.does_not_exist() | (User.password_failures < max_tries)
    try:
        user.update(actions=[User.password_failures.add(1)], condition=_unlocked(at) & room)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        fresh = User.get(user.user_id, consistent_read=True)
        if fresh.password_locked_until and parse_iso(fresh.password_locked_until) > now:
            raise _locked(fresh.password_locked_until) from exc
        # Every try of the period is claimed, the lock not yet written (the last check is
        # still running, or never finished): lock now.
        raise _lock(fresh, now) from exc
    return int(user.password_failures)


def _lock(user: User, now: datetime) -> errors.DomainError:
    """Start the lock period (the counter starts again when it ends); the 423 to raise."""
    rules = settings().rules
    until = iso(now + timedelta(seconds=rules.password_lock_seconds))
    try:
        user.update(
            actions=[User.password_locked_until.set(until), User.password_failures.set(0)],
            condition=_unlocked(iso(now)),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        until = (
            User.get(user.user_id, consistent_read=True).password_locked_until or until
        )  # locked meanwhile by another try
    return _locked(until)
